import PerfABI
import PerfEvents
import ProfileModel
#if canImport(Glibc)
import Glibc
#endif

/// Something Perch left out or changed because the system does not allow it, with the reason
/// and how to get it back. Shown in the report header, in `--json`, and once on stderr.
public struct Degradation: Sendable, Equatable, CustomStringConvertible {
    /// The report note this degradation becomes (stored in the recording by its raw value).
    public typealias Kind = ReportNote.Kind

    public var kind: Kind
    public var reason: String
    public var remedy: String?

    public init(_ kind: Kind, reason: String, remedy: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.remedy = remedy
    }

    public var description: String {
        remedy.map { "\(reason); to get it: \($0)" } ?? reason
    }
}

/// What cannot degrade: Perch stops with one message naming the setting and the remedy.
public struct PlanRefusal: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case systemWideNotAllowed, attachNotAllowed, perfEventsBlocked
    }

    /// The exit code for every refusal (sysexits' EX_NOPERM).
    public static let exitCode: Int32 = 77

    public var kind: Kind
    public var reason: String
    public var remedy: String

    public var description: String { "\(reason); to allow it: \(remedy)" }
}

/// The events Perch will open for a request, and what it had to give up.
public struct RecordingPlan: Sendable {
    public var attributes: EventAttributes
    /// The `context-switches` event sampled at every switch (for switch-out stacks), when allowed.
    public var switchAttributes: EventAttributes?
    public var dataPages: Int
    public var degradations: [Degradation]
}

/// Decides, from what the user asked and what the probe found, what to open.
public enum RecordingPlanner {
    public static func plan(_ options: RecordOptions, probe: PrivilegeProbe) throws(PlanRefusal) -> RecordingPlan {
        let settings = probe.settings
        let paranoid = settings.paranoid.map(String.init) ?? "unreadable"
        guard probe.perfEventOpenWorks else {
            throw PlanRefusal(kind: .perfEventsBlocked, reason: probe.blockedReason ?? "perf_event_open is blocked",
                              remedy: probe.blockedRemedy)
        }
        var degradations: [Degradation] = []

        switch options.target {
        case .systemWide:
            guard probe.mayProfileSystemWide else {
                throw PlanRefusal(kind: .systemWideNotAllowed,
                                  reason: "system-wide sampling needs CAP_PERFMON or kernel.perf_event_paranoid <= 0 (it is \(paranoid))",
                                  remedy: "setcap cap_perfmon+ep $(which perch), or sysctl kernel.perf_event_paranoid=0, or in a container --cap-add PERFMON")
            }
        case .attach(let pids):
            for pid in pids { try checkAttach(pid: pid, probe: probe) }
        case .threads(let tids):
            for tid in tids { try checkAttach(pid: tid, probe: probe) }
        case .launch:
            break
        }

        var attributes = EventAttributes(kind: options.event)
        if options.event.isHardware && !probe.hardwarePMU {
            attributes.kind = .cpuClock
            degradations.append(Degradation(.hardwareEventUnavailable,
                reason: "hardware event '\(options.event)' is not supported here (no hardware PMU, as in most VMs): sampling cpu-clock instead",
                remedy: nil))
        }
        if let period = options.period {
            attributes.samplePeriodOrFrequency = period
        } else {
            var frequency = max(1, options.frequency)
            if let maximum = settings.maxSampleRate, frequency > UInt64(maximum) {
                degradations.append(Degradation(.frequencyClamped,
                    reason: "frequency \(frequency) Hz clamped to kernel.perf_event_max_sample_rate=\(maximum)",
                    remedy: "sysctl kernel.perf_event_max_sample_rate=\(frequency)"))
                frequency = UInt64(maximum)
            }
            attributes.samplePeriodOrFrequency = frequency
            attributes.flags.insert(.frequency)
        }
        attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period]
        options.callGraph.apply(to: &attributes)
        if options.callGraph == .framePointer && !options.leafRepair {
            attributes.sampleType.subtract([.regsUser, .stackUser])
            attributes.sampleRegsUser = 0
            attributes.sampleStackUser = 0
        }
        attributes.flags.formUnion([.disabled, .mmap, .mmap2, .comm, .commExec, .task, .sampleIDAll, .buildID, .watermark])
        switch options.target {
        case .launch: attributes.flags.formUnion([.inherit, .enableOnExec])
        case .attach: attributes.flags.insert(.inherit)
        case .threads, .systemWide: break
        }
        if options.contextSwitches { attributes.flags.insert(.contextSwitch) }

        if !options.kernel {
            attributes.flags.formUnion([.excludeKernel, .excludeHypervisor])
        } else if !probe.mayProfileKernel {
            attributes.flags.formUnion([.excludeKernel, .excludeHypervisor])
            degradations.append(Degradation(.kernelFramesDropped,
                reason: "kernel frames left out: kernel.perf_event_paranoid=\(paranoid) allows user space only without CAP_PERFMON",
                remedy: "sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)"))
        } else if !probe.kernelAddressesVisible {
            degradations.append(Degradation(.kernelSymbolsHidden,
                reason: "kernel symbols unavailable: /proc/kallsyms hides kernel addresses from this user (kernel.kptr_restrict=\(settings.kptrRestrict.map(String.init) ?? "unreadable"), perf_event_paranoid=\(paranoid)), so kernel frames show as [unknown]",
                remedy: probe.kernelAddressesRemedy))
        }
        if options.contextSwitches && !probe.mayProfileKernel {
            degradations.append(Degradation(.switchStacksUnavailable,
                reason: "context-switch stacks unavailable at kernel.perf_event_paranoid=\(paranoid) without CAP_PERFMON (the context-switches event opens but never counts with exclude_kernel=1); switch records and off-CPU time are kept",
                remedy: "sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)"))
        }

        var pages = max(1, options.dataPages)
        if pages & (pages - 1) != 0 { pages = 1 << (Int.bitWidth - pages.leadingZeroBitCount - 1) }
        // Stack copies make samples 10-60 times larger: where locked memory is not limited
        // (root, CAP_IPC_LOCK) and the user kept the default, give the rings room to match.
        if attributes.sampleType.contains(.stackUser), probe.settings.unlimitedLockedMemory, options.dataPages == 128 {
            pages = attributes.sampleStackUser > 1024 ? 1024 : 256
            if options.callGraph == .auto {
                // auto's copy grows with the ring (up to 64 KiB): give it 64 ms of samples at
                // 4 kHz on few CPUs, keeping all rings together within 64 MiB of locked memory.
                let cpus = max(1, settings.onlineCPUs.count)
                pages = min(Self.largeRingPages, max(1024, Self.largeRingPages * 4 / cpus))
            }
        }
        if !probe.settings.unlimitedLockedMemory, let budget = settings.mlockKiB {
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            let fitting = budget * 1024 / pageSize - 1
            if fitting >= 1 && pages > fitting {
                let shrunk = 1 << (Int.bitWidth - fitting.leadingZeroBitCount - 1)
                degradations.append(Degradation(.ringBufferShrunk,
                    reason: "ring buffers shrunk to \(shrunk) data pages per CPU (asked for \(pages)) to fit kernel.perf_event_mlock_kb=\(budget)",
                    remedy: "sysctl kernel.perf_event_mlock_kb=\((pages + 1) * pageSize / 1024)"))
                pages = shrunk
            }
        }
        if options.callGraph == .auto, attributes.sampleType.contains(.stackUser) {
            attributes.sampleStackUser = autoStackCopySize(ringBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))))
        }
        var switchAttributes: EventAttributes?
        if options.contextSwitches && probe.mayProfileKernel {
            var switches = EventAttributes(kind: .contextSwitches)
            switches.samplePeriodOrFrequency = 1
            switches.sampleType = attributes.sampleType
            switches.sampleRegsUser = attributes.sampleRegsUser
            switches.sampleStackUser = attributes.sampleStackUser
            switches.flags = attributes.flags.intersection([.disabled, .inherit, .enableOnExec, .sampleIDAll, .excludeKernel, .excludeHypervisor])
            switchAttributes = switches
        }
        // Wake the reader when a quarter of the ring is full, not per sample.
        attributes.wakeup = UInt32(pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 4)
        return RecordingPlan(attributes: attributes, switchAttributes: switchAttributes, dataPages: pages, degradations: degradations)
    }

    /// Data pages per CPU for `auto` where locked memory is not limited, on up to 4 CPUs.
    static let largeRingPages = 4096

    /// Samples of the largest copy a ring must hold at once for `auto`'s copy size.
    static let samplesPerRing = 16

    /// The user stack copy `auto` asks for with rings of `ringBytes`: the largest that leaves
    /// room for ``samplesPerRing`` samples, at most the kernel's 65528 and at least
    /// ``CallGraphMode/autoStackSize``. Real programs need it: Debian's sqlite3 shell uses
    /// 10-13 KiB of stack, cc1plus 8-16 KiB, rustc and swift-frontend often more than 32 KiB, and
    /// these binaries have no frame pointers to go on with beyond the copy. The kernel reserves
    /// the whole copy in the ring per sample but fills only the stack in use (`dyn_size`), and
    /// the drain loop writes only that, so the cost is the ring's room, not the file's bytes.
    static func autoStackCopySize(ringBytes: Int) -> UInt32 {
        let fitting = ringBytes / samplesPerRing & ~7
        return UInt32(min(Int(CallGraphMode.maximumStackSize), max(Int(CallGraphMode.autoStackSize), fitting)))
    }

    /// Per-task events on another user's process pass the kernel's ptrace check only with
    /// CAP_PERFMON or CAP_SYS_PTRACE.
    static func checkAttach(pid: Int32, probe: PrivilegeProbe) throws(PlanRefusal) {
        var info = stat()
        guard stat("/proc/\(pid)", &info) == 0 else { return }  // the recorder reports a missing process
        let owner = info.st_uid
        guard owner != geteuid(), !probe.hasPerfmon, !probe.settings.hasCapability(.sysPtrace) else { return }
        throw PlanRefusal(kind: .attachNotAllowed,
                          reason: "process \(pid) belongs to uid \(owner), and attaching to another user's process needs CAP_PERFMON or CAP_SYS_PTRACE",
                          remedy: "run perch as uid \(owner), or setcap cap_perfmon+ep $(which perch)")
    }
}
