import PerfABI
import PerfEvents
import Recording
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// One event `perch stat` counts (or says it cannot), with the name it is printed under.
public struct CountedEvent: Sendable, Equatable {
    /// Whether the event will be opened, and why not when it will not.
    public enum Availability: Sendable, Equatable {
        case countable
        /// The machine lacks the event (no PMU, no such tracepoint): perf's `<not supported>`.
        case unsupported(String)
        /// This user may not count it here (kernel-only counts at paranoid 2, ...): printed
        /// `<not supported>` too, with the reason in a note.
        case notPermitted(String)

        public var isCountable: Bool { self == .countable }
    }

    public var specification: EventSpecification
    /// As perf prints it: the spelling with its modifiers, `:u` added when Perch had to leave
    /// the kernel out.
    public var name: String
    public var attributes: EventAttributes
    public var availability: Availability

    /// task-clock and cpu-clock count nanoseconds, printed in milliseconds.
    public var isClock: Bool {
        specification.source == .known(.taskClock) || specification.source == .known(.cpuClock)
    }

    /// The unit column: `msec` for the clocks, empty for counts.
    public var unit: String { isClock ? "msec" : "" }
}

/// What `perch stat` will count, grouped as asked, and what it had to leave out.
public struct CountingPlan: Sendable {
    public var target: RecordingTarget
    /// The groups as given (`{a,b}` is one group, a lone event a group of one).
    public var groups: [[CountedEvent]]
    public var degradations: [Degradation]

    /// Every event, in the order printed.
    public var events: [CountedEvent] { groups.flatMap { $0 } }
}

/// Decides, from the events asked for, the target and what the probe found, what to count.
public enum CountingPlanner {
    /// perf stat's default events (cpu-clock instead of task-clock system-wide, as perf does).
    public static func defaultEvents(systemWide: Bool) -> [[EventSpecification]] {
        let kinds: [EventKind] = [systemWide ? .cpuClock : .taskClock, .contextSwitches, .cpuMigrations, .pageFaults,
                                  .cpuCycles, .instructions, .branchInstructions, .branchMisses]
        return kinds.map { [EventSpecification(source: .known($0))] }
    }

    /// Plans the events. `groups` nil means perf's default set.
    public static func plan(_ groups: [[EventSpecification]]?, target: RecordingTarget, probe: PrivilegeProbe,
                            tracepointID: (String, String) -> UInt64? = Tracefs.eventID(subsystem:name:)) throws(CountingRefusal) -> CountingPlan {
        let paranoid = probe.settings.paranoid.map(String.init) ?? "unreadable"
        guard probe.perfEventOpenWorks else {
            throw CountingRefusal(kind: .perfEventsBlocked, reason: probe.blockedReason ?? "perf_event_open is blocked",
                              remedy: probe.blockedRemedy)
        }
        var systemWide = false
        switch target {
        case .systemWide:
            systemWide = true
            guard probe.mayProfileSystemWide else {
                throw CountingRefusal(kind: .systemWideNotAllowed,
                                  reason: "counting system-wide needs CAP_PERFMON or kernel.perf_event_paranoid <= 0 (it is \(paranoid))",
                                  remedy: "setcap cap_perfmon+ep $(which perch), or sysctl kernel.perf_event_paranoid=0, or in a container --cap-add PERFMON")
            }
        case .attach(let pids):
            for pid in pids { try checkAttach(pid, probe: probe) }
        case .threads(let tids):
            for tid in tids { try checkAttach(tid, probe: probe) }
        case .launch:
            break
        }
        let mayCountKernel = probe.mayProfileKernel
        let kernelRemedy = "sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)"
        var degradations: [Degradation] = []
        var userOnlyNamed: [String] = []
        var neverCount: [String] = []

        var planned: [[CountedEvent]] = []
        for group in groups ?? defaultEvents(systemWide: systemWide) {
            var members: [CountedEvent] = []
            for specification in group {
                var event = CountedEvent(specification: specification, name: specification.typedName,
                                         attributes: EventAttributes(kind: .dummy), availability: .countable)
                // Which privilege levels to count.
                var excluded = specification.modifiers.excludedLevels
                let wantsKernel = !excluded.contains(.excludeKernel)
                if wantsKernel && !mayCountKernel {
                    if !specification.modifiers.restrictsLevels {
                        excluded = [.excludeKernel, .excludeHypervisor]
                        event.name = specification.typedName + ":u"
                        userOnlyNamed.append(event.name)
                    } else if specification.modifiers.user {
                        excluded.formUnion([.excludeKernel, .excludeHypervisor])
                        userOnlyNamed.append(event.name)
                    } else {
                        event.availability = .notPermitted("counting in the kernel needs kernel.perf_event_paranoid <= 1 or CAP_PERFMON (it is \(paranoid))")
                    }
                }
                // What it is.
                switch specification.source {
                case .known(let kind):
                    event.attributes.kind = kind
                    if kind.isHardware && !probe.hardwarePMU {
                        event.availability = .unsupported("no hardware PMU on this machine (as in most VMs)")
                    }
                    if (kind == .contextSwitches || kind == .cpuMigrations) && excluded.contains(.excludeKernel)
                        && event.availability.isCountable {
                        // Both happen in the kernel: with exclude_kernel they open and never count.
                        event.availability = .notPermitted("\(kind) happen in the kernel and count nothing in user space only")
                        neverCount.append(event.name)
                    }
                case .raw(let config):
                    event.attributes.kind = .other(type: EventType.raw.rawValue, config: config)
                    if !probe.hardwarePMU {
                        event.availability = .unsupported("raw PMU events need a hardware PMU (none on this machine)")
                    }
                case .tracepoint(let subsystem, let name):
                    if let id = tracepointID(subsystem, name) {
                        event.attributes.kind = .other(type: EventType.tracepoint.rawValue, config: id)
                    } else {
                        event.availability = .unsupported("tracepoint \(subsystem):\(name) not found in tracefs, or tracefs is not readable by this user")
                    }
                }
                event.attributes.flags = excluded
                members.append(event)
            }
            // The leader starts disabled (enabled at exec, or by the command once everything is
            // open); the members follow it. A group of several is read in one go.
            let readFormat: ReadFormat = members.count > 1
                ? [.totalTimeEnabled, .totalTimeRunning, .group, .id] : [.totalTimeEnabled, .totalTimeRunning]
            for index in members.indices {
                members[index].attributes.readFormat = readFormat
                members[index].attributes.flags.insert(.disabled)
                switch target {
                case .launch: members[index].attributes.flags.formUnion([.inherit, .enableOnExec])
                case .attach: members[index].attributes.flags.insert(.inherit)
                case .threads, .systemWide: break
                }
            }
            planned.append(members)
        }
        let countableNames = Set(planned.joined().filter { $0.availability.isCountable }.map(\.name))
        userOnlyNamed = userOnlyNamed.filter { countableNames.contains($0) }
        if !userOnlyNamed.isEmpty {
            degradations.append(Degradation(.kernelFramesDropped,
                reason: "counting user space only (\(userOnlyNamed.joined(separator: ", "))): kernel.perf_event_paranoid=\(paranoid) allows no kernel counts without CAP_PERFMON",
                remedy: kernelRemedy))
        }
        if !neverCount.isEmpty {
            degradations.append(Degradation(.eventNeverCounts,
                reason: "\(neverCount.joined(separator: ", ")) left out: they happen in the kernel, so a user-space-only count is always 0",
                remedy: kernelRemedy))
        }
        for event in planned.joined() {
            if case .notPermitted(let reason) = event.availability, !neverCount.contains(event.name) {
                degradations.append(Degradation(.eventNeverCounts, reason: "\(event.name) left out: \(reason)", remedy: kernelRemedy))
            }
        }
        return CountingPlan(target: target, groups: planned, degradations: degradations)
    }

    /// Per-task events on another user's process pass the kernel's ptrace check only with
    /// CAP_PERFMON or CAP_SYS_PTRACE.
    static func checkAttach(_ pid: Int32, probe: PrivilegeProbe) throws(CountingRefusal) {
        var info = stat()
        guard stat("/proc/\(pid)", &info) == 0 else { return }  // opening reports a missing process
        let owner = info.st_uid
        guard owner != geteuid(), !probe.hasPerfmon, !probe.settings.hasCapability(.sysPtrace) else { return }
        throw CountingRefusal(kind: .attachNotAllowed,
                          reason: "process \(pid) belongs to uid \(owner), and counting another user's process needs CAP_PERFMON or CAP_SYS_PTRACE",
                          remedy: "run perch as uid \(owner), or setcap cap_perfmon+ep $(which perch)")
    }
}

/// What `perch stat` will not do for this user, with the setting that forbids it and the remedy.
public struct CountingRefusal: Error, Sendable, CustomStringConvertible {
    public typealias Kind = PlanRefusal.Kind

    /// The exit code for every refusal (sysexits' EX_NOPERM), as for `perch record`.
    public static let exitCode: Int32 = PlanRefusal.exitCode

    public var kind: Kind
    public var reason: String
    public var remedy: String

    public init(kind: Kind, reason: String, remedy: String) {
        self.kind = kind
        self.reason = reason
        self.remedy = remedy
    }

    public var description: String { "\(reason); to allow it: \(remedy)" }
}

/// Tracepoint ids from tracefs.
public enum Tracefs {
    /// The id of `SUBSYS:NAME`, from /sys/kernel/tracing (or the debugfs mount); nil when there
    /// is no such tracepoint or tracefs cannot be read.
    public static func eventID(subsystem: String, name: String) -> UInt64? {
        for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            guard let bytes = try? readFile(path: "\(root)/events/\(subsystem)/\(name)/id", limit: 64) else { continue }
            return UInt64(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \n"))
        }
        return nil
    }
}
