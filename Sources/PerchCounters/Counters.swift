import CPerfEvent
import Counting
import PerfABI
import PerfEvents
import Recording
#if canImport(Glibc)
import Glibc
#endif

/// Event counts over a piece of code, counted by the kernel (`perf_event_open`) for the calling
/// thread — what `perch stat` prints for a whole command, available to tests and benchmarks.
///
/// ```swift
/// let counts = try Counters.measure([.taskClock, .contextSwitches, .pageFaults, .instructions]) {
///     work()
/// }
/// print(counts[.taskClock]?.value ?? 0, "ns on CPU")
/// if case .unsupported(let reason) = counts[.instructions]?.availability { print(reason) }
/// ```
///
/// Every event is asked for; what the machine lacks (hardware events without a PMU, as in most
/// VMs) comes back ``Count/Availability-swift.enum/unsupported(_:)``, and what this user may not
/// count (kernel counts at `kernel.perf_event_paranoid` 2 without CAP_PERFMON)
/// ``Count/Availability-swift.enum/notPermitted(_:)``, each with the reason. When the kernel
/// could not run an event all the time (multiplexing on a PMU), ``Count/value`` is scaled by
/// enabled over running time, as perf stat does.
public struct Counters: Sendable {
    /// The events Counters can count, named as `perf list` spells them.
    public enum Event: String, Sendable, CaseIterable, CustomStringConvertible {
        /// CPU time of the measured threads, in nanoseconds.
        case taskClock = "task-clock"
        /// CPU time by the CPU clock, in nanoseconds.
        case cpuClock = "cpu-clock"
        /// Times a measured thread was switched out (counted in the kernel).
        case contextSwitches = "context-switches"
        /// Times a measured thread moved to another CPU (counted in the kernel).
        case cpuMigrations = "cpu-migrations"
        /// Page faults.
        case pageFaults = "page-faults"
        /// CPU cycles (needs a hardware PMU).
        case cycles
        /// Retired instructions (needs a hardware PMU).
        case instructions
        /// Retired branch instructions (needs a hardware PMU).
        case branches
        /// Mispredicted branches (needs a hardware PMU).
        case branchMisses = "branch-misses"
        /// Cache references (needs a hardware PMU).
        case cacheReferences = "cache-references"
        /// Cache misses (needs a hardware PMU).
        case cacheMisses = "cache-misses"

        public var description: String { rawValue }

        var kind: EventKind {
            switch self {
            case .taskClock: .taskClock
            case .cpuClock: .cpuClock
            case .contextSwitches: .contextSwitches
            case .cpuMigrations: .cpuMigrations
            case .pageFaults: .pageFaults
            case .cycles: .cpuCycles
            case .instructions: .instructions
            case .branches: .branchInstructions
            case .branchMisses: .branchMisses
            case .cacheReferences: .cacheReferences
            case .cacheMisses: .cacheMisses
            }
        }
    }

    /// One event's count.
    public struct Count: Sendable, Equatable {
        /// Whether the event was counted, and why not when it was not.
        public enum Availability: Sendable, Equatable {
            case counted
            /// Opened, but it never ran (perf's `<not counted>`).
            case notCounted
            /// The machine lacks the event (no hardware PMU, ...).
            case unsupported(String)
            /// This user may not count it here; the reason names the setting.
            case notPermitted(String)
        }

        public let event: Event
        /// The name perf stat would print: `page-faults:u` when the kernel had to be left out.
        public let name: String
        public let availability: Availability
        /// The count the kernel reported, unscaled.
        public let raw: UInt64
        /// Nanoseconds the event was enabled.
        public let timeEnabled: UInt64
        /// Nanoseconds it was counting.
        public let timeRunning: UInt64

        /// The count scaled to the whole enabled time (`raw × enabled / running`); nil unless
        /// ``availability`` is ``Availability-swift.enum/counted``. Nanoseconds for the clocks.
        public var value: Double? {
            guard availability == .counted else { return nil }
            return CounterReading(value: raw, timeEnabled: timeEnabled, timeRunning: timeRunning).scaled
        }

        /// The share of the enabled time the event was counting (1 when it always was).
        public var runningFraction: Double {
            CounterReading(value: raw, timeEnabled: timeEnabled, timeRunning: timeRunning).runningPercent / 100
        }
    }

    /// The counts, in the order the events were asked for.
    public let counts: [Count]
    /// What was left out and why (user-space-only counting, events this user may not count).
    public let notes: [String]

    /// The count of `event`, if it was asked for.
    public subscript(_ event: Event) -> Count? {
        counts.first { $0.event == event }
    }

    /// Counts `events` while `body` runs on the calling thread.
    ///
    /// - Parameters:
    ///   - events: what to count; duplicates are counted once.
    ///   - includingNewThreads: also count threads `body` creates (the kernel's `inherit`);
    ///     their counts are added when they exit.
    ///   - body: the code to measure. What it throws is rethrown after the counters are closed.
    /// - Throws: ``CountersError`` when perf events cannot be used at all here (seccomp,
    ///   `kernel.perf_event_paranoid` 3), or the error `body` throws.
    public static func measure(_ events: [Event], includingNewThreads: Bool = false,
                               _ body: () throws -> Void) throws -> Counters {
        var unique: [Event] = []
        for event in events where !unique.contains(event) { unique.append(event) }
        let tid = perch_gettid()
        let target: RecordingTarget = includingNewThreads ? .attach(pids: [tid]) : .threads([tid])
        let plan: CountingPlan
        do {
            plan = try CountingPlanner.plan(unique.map { [EventSpecification(source: .known($0.kind))] }, target: target,
                                            probe: PrivilegeProbe.run())
        } catch {
            throw CountersError(description: error.description)
        }
        let set: CounterSet
        do {
            set = try CounterSet(plan: plan, places: [.task(tid)])
            try set.enable()
        } catch {
            throw CountersError(description: error.description)
        }
        do {
            try body()
        } catch {
            set.disable()
            throw error
        }
        set.disable()
        let readings: [CounterReading?]
        do { readings = try set.read().first ?? [] } catch { throw CountersError(description: error.description) }
        var counts: [Count] = []
        for (index, event) in unique.enumerated() {
            let planned = plan.events[index]
            let reading = index < readings.count ? readings[index] : nil
            let availability: Count.Availability
            switch set.availability[index] {
            case .countable: availability = reading?.counted == true ? .counted : .notCounted
            case .unsupported(let reason): availability = .unsupported(reason)
            case .notPermitted(let reason): availability = .notPermitted(reason)
            }
            counts.append(Count(event: event, name: planned.name, availability: availability, raw: reading?.value ?? 0,
                                timeEnabled: reading?.timeEnabled ?? 0, timeRunning: reading?.timeRunning ?? 0))
        }
        // The remedies name perch's binary; here the capability goes on the program itself.
        let notes = plan.degradations.map { $0.description.replacing("$(which perch)", with: "PROGRAM") }
        return Counters(counts: counts, notes: notes)
    }
}

/// Why counting could not start: perf events are unusable here, or the kernel refused.
public struct CountersError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// rr's desched signal: while armed, the calling thread receives a signal when the kernel
/// switches it out, so a blocking system call returns `EINTR` and the thread learns it blocked.
///
/// `try DeschedNotifier(signal: SIGUSR1)` picks the first mechanism that passes its self-test
/// here: a `context-switches` counter overflowing at every switch (kernel.perf_event_paranoid
/// <= 1 or CAP_PERFMON), or, on Linux 6.10 and later, the wakeup of a `PERF_RECORD_SWITCH`
/// record in a one-page ring (works at paranoid 2). Install the signal's handler without
/// `SA_RESTART`, arm just before the blocking call and disarm after it. Defined in the
/// PerfEvents module; re-exported here so library users need one import.
public typealias DeschedNotifier = PerfEvents.DeschedNotifier

