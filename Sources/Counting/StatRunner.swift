import CPerfEvent
import PerfABI
import PerfEvents
import Recording
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// Everything `perch stat` was asked to do.
public struct StatOptions: Sendable {
    /// The `-e` groups; nil for perf's default set.
    public var events: [[EventSpecification]]?
    public var target: RecordingTarget
    /// With `-p`/`-t`: a command that bounds the counting (it is not counted itself).
    public var boundingCommand: [String]?
    /// `-r N`: run the command N times and print means and spreads.
    public var repeats = 1
    /// `-I MS`: print the counts of every interval of this many milliseconds.
    public var intervalMilliseconds: Int?
    /// `--per-thread`: a line per thread instead of their sum.
    public var perThread = false
    /// `-A`: a line per CPU instead of their sum (system-wide).
    public var perCPU = false

    public init(target: RecordingTarget) {
        self.target = target
    }
}

/// What a counting session ended with.
public struct StatResult: Sendable {
    /// The summary lines (empty in interval mode, where every interval was printed already).
    public var lines: [StatLine]
    /// Nanoseconds from the command's exec (or the events' enabling) to its end, per run.
    public var elapsed: RunningStatistics
    /// The launched command's user and system CPU seconds (one run).
    public var userSeconds: Double?
    public var systemSeconds: Double?
    /// The launched command's shell-style status in the last run.
    public var commandStatus: Int32?
    /// The stop signal (SIGINT, SIGTERM, SIGHUP) that ended the counting, if one did.
    public var interruptedBy: Int32?
}

/// Runs `perch stat`: plans the events, launches or attaches, opens the counters, waits (printing
/// intervals), reads and sums them, once per run.
public final class StatRunner {
    public let options: StatOptions
    public let plan: CountingPlan
    public let settings: KernelSettings
    /// Notes about what was left out, each once: the plan's, then events the kernel refused.
    public private(set) var notes: [String]
    /// Called with each interval's lines in `-I` mode.
    public var onInterval: (([StatLine]) -> Void)?

    public init(options: StatOptions, settings: KernelSettings = .read()) throws(CountingRefusal) {
        self.options = options
        self.settings = settings
        plan = try CountingPlanner.plan(options.events, target: options.target, probe: PrivilegeProbe.run(settings: settings))
        notes = plan.degradations.map(\.description)
    }

    public func run() throws -> StatResult {
        perch_install_stop_handler()
        var accumulator: StatAccumulator?
        var result = StatResult(lines: [], elapsed: RunningStatistics())
        for _ in 0..<max(1, options.repeats) {
            let run = try runOnce(into: &accumulator)
            result.elapsed.add(run.elapsed)
            result.commandStatus = run.status
            result.userSeconds = run.user
            result.systemSeconds = run.system
            let signal = perch_stop_signal()
            if signal > 0 { result.interruptedBy = signal; break }
        }
        if options.intervalMilliseconds == nil, let accumulator {
            result.lines = accumulator.lines(showVariance: options.repeats > 1)
        }
        return result
    }

    private struct Run {
        var elapsed: Double
        var status: Int32?
        var user: Double?
        var system: Double?
    }

    private func runOnce(into accumulator: inout StatAccumulator?) throws -> Run {
        let target = TargetProcess(target: options.target)
        let tasks = try target.prepare()
        defer { target.closePidfds() }
        let places: [CountingPlace]
        if case .systemWide(let cpus, _) = options.target {
            places = (cpus ?? settings.onlineCPUs).map { .cpu($0) }
        } else {
            places = tasks.map { .task($0) }
        }
        let counters: CounterSet
        do {
            counters = try CounterSet(plan: plan, places: places)
        } catch {
            target.cancel()
            throw error
        }
        recordOpenFailures(counters)
        let aggregates = places.map(aggregate(for:))
        var bounding: TargetProcess?
        if let command = options.boundingCommand, !command.isEmpty {
            let process = TargetProcess(target: .launch(command))
            _ = try process.prepare()
            bounding = process
        }
        defer { bounding?.closePidfds() }
        let launched: Bool
        if case .launch = options.target { launched = true } else { launched = false }
        if !launched { try counters.enable() }
        let usageBefore = childrenUsage()
        let start = monotonicNanoseconds()
        if let failure = target.release() {
            bounding?.cancel()
            throw RecordingError.commandNotFound(target.commandName, errno: failure)
        }
        if let bounding, let failure = bounding.release() {
            throw RecordingError.commandNotFound(bounding.commandName, errno: failure)
        }

        var status: Int32?
        var previous: [[CounterReading?]]? = nil
        var nextTick = options.intervalMilliseconds.map { start + UInt64($0) * 1_000_000 }
        var tickStart = start
        let watched = target.hasChild ? target : bounding
        var forwardedStop = false
        var livePidfds = watched?.pidfds ?? target.pidfds
        while true {
            if let watched, let exited = watched.exitStatusIfExited() { status = exited; break }
            if watched == nil, target.followsAttachedProcesses, livePidfds.isEmpty { break }
            if perch_stop_requested() > 0 {
                // A launched command got the terminal's Ctrl-C too; forward SIGTERM/SIGHUP and wait for it.
                guard let watched else { break }
                if !forwardedStop { watched.signal(perch_stop_signal()); forwardedStop = true }
            }
            let now = monotonicNanoseconds()
            if let tick = nextTick, now >= tick {
                previous = try emitInterval(counters, previous: previous, aggregates: aggregates,
                                            from: tickStart, to: now, start: start)
                tickStart = now
                nextTick = tick + UInt64(options.intervalMilliseconds ?? 1000) * 1_000_000
                continue
            }
            let wait = nextTick.map { Int32(clamping: ($0 - now) / 1_000_000 + 1) } ?? 100
            var fds = livePidfds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), min(wait, 100)) > 0 {
                // An exited process's pidfd stays readable: poll only the ones still running.
                let exited = Set(fds.filter { $0.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 }.map(\.fd))
                livePidfds.removeAll { exited.contains($0) }
            }
        }
        let end = monotonicNanoseconds()
        if !launched { counters.disable() }
        let usageAfter = childrenUsage()
        if options.intervalMilliseconds != nil {
            _ = try emitInterval(counters, previous: previous, aggregates: aggregates, from: tickStart, to: end, start: start)
        } else {
            let readings = try counters.read()
            if accumulator == nil { accumulator = StatAccumulator(events: plan.events, availability: counters.availability) }
            accumulator?.add(aggregate(readings, aggregates), availability: counters.availability,
                             elapsedNanoseconds: Double(end - start))
        }
        let launchedCommand = launched || options.target.launchesCommand
        return Run(elapsed: Double(end - start), status: status,
                   user: launchedCommand ? usageAfter.user - usageBefore.user : nil,
                   system: launchedCommand ? usageAfter.system - usageBefore.system : nil)
    }

    /// Reads, prints the deltas since the previous interval, and returns this reading.
    private func emitInterval(_ counters: CounterSet, previous: [[CounterReading?]]?, aggregates: [StatAggregate?],
                              from: UInt64, to: UInt64, start: UInt64) throws -> [[CounterReading?]] {
        let readings = try counters.read()
        let deltas: [[CounterReading?]] = readings.enumerated().map { place, events in
            events.enumerated().map { event, reading in
                guard let reading else { return nil }
                guard let earlier = previous?[place][event] else { return reading }
                return reading.since(earlier)
            }
        }
        var accumulator = StatAccumulator(events: plan.events, availability: counters.availability)
        accumulator.add(aggregate(deltas, aggregates), availability: counters.availability,
                        elapsedNanoseconds: Double(to - from))
        onInterval?(accumulator.lines(interval: to - start, showVariance: false))
        return readings
    }

    /// Per place readings summed into the lines' aggregates (one sum, or one per CPU or thread).
    private func aggregate(_ readings: [[CounterReading?]], _ aggregates: [StatAggregate?])
        -> [(aggregate: StatAggregate?, readings: [CounterReading?])] {
        var result: [(aggregate: StatAggregate?, readings: [CounterReading?])] = []
        for (place, events) in readings.enumerated() {
            let key = aggregates[place]
            if let index = result.firstIndex(where: { $0.aggregate == key }) {
                result[index].readings = zip(result[index].readings, events).map { sum, reading in
                    guard let reading else { return sum }
                    return (sum ?? CounterReading()) + reading
                }
            } else {
                result.append((key, events))
            }
        }
        if result.isEmpty { result.append((nil, [CounterReading?](repeating: nil, count: plan.events.count))) }
        return result
    }

    private func aggregate(for place: CountingPlace) -> StatAggregate? {
        switch place {
        case .cpu(let cpu): return options.perCPU ? .cpu(cpu) : nil
        case .task(let tid):
            guard options.perThread else { return nil }
            let comm = (try? readFile(path: "/proc/\(tid)/comm", limit: 64)).map {
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: "\n")
            } ?? "?"
            return .thread(comm: comm, tid: tid)
        }
    }

    private func recordOpenFailures(_ counters: CounterSet) {
        for (event, availability) in zip(plan.events, counters.availability) where availability != event.availability {
            if case .notPermitted(let reason) = availability {
                let note = "\(event.name) left out: \(reason)"
                if !notes.contains(note) { notes.append(note) }
            }
        }
    }
}

extension RecordingTarget {
    /// Whether a command is launched (alone, or bounding a system-wide count).
    var launchesCommand: Bool {
        switch self {
        case .launch: true
        case .systemWide(_, let command): !(command ?? []).isEmpty
        default: false
        }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// The CPU time of this process's reaped children so far, in seconds.
func childrenUsage() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
    return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
}
