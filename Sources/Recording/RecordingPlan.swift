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
        /// `--all-kernel` where kernel sampling is not allowed (or with `--all-user`).
        case kernelOnlyNotAllowed
        /// An event modifier (`:k`, `:h`) asks for kernel sampling this user may not do.
        case kernelNotAllowed
        /// A tracepoint this user may not sample (tracefs unreadable, or kernel sampling forbidden).
        case tracepointNotAllowed
        /// The event does not exist on this machine (a tracepoint name tracefs does not have).
        /// Not a permission matter: the command line is wrong (exit 64).
        case noSuchEvent
    }

    /// The exit code for every refusal (sysexits' EX_NOPERM).
    public static let exitCode: Int32 = 77

    public var kind: Kind
    public var reason: String
    public var remedy: String

    public var description: String { remedy.isEmpty ? reason : "\(reason); to allow it: \(remedy)" }
}

/// One event of a plan: its attributes, the name perf gives it, and for a tracepoint its
/// record format (stored in the recording, so reports elsewhere can name the fields).
public struct PlannedEvent: Sendable {
    public var attributes: EventAttributes
    /// perf's name for it: `cpu-clock`, `cpu-clock:u`, `sched:sched_switch`.
    public var name: String
    /// The tracefs format, and its text as read, for a tracepoint.
    public var tracepoint: (format: TracepointFormat, text: String)?
    /// `:P`: when the kernel refuses `precise_ip`, try the next lower value down to 0.
    public var lowersPrecision = false
    /// The user chose the privilege levels (`:u`, `:k`, `:h`): never widened or narrowed.
    public var levelsChosen = false
    /// Opened once per CPU for every task (pid -1) into that CPU's ring, enabled from the start.
    public var cpuWide = false
}

/// The events Perch will open for a request, and what it had to give up.
public struct RecordingPlan: Sendable {
    /// Every event, the main one first. Events after the first carry no process records
    /// (mmap, comm, task): the first one's cover the same tasks.
    public var events: [PlannedEvent]
    /// The main event's attributes.
    public var attributes: EventAttributes {
        get { events[0].attributes }
        set { events[0].attributes = newValue }
    }
    /// The `context-switches` event sampled at every switch (for switch-out stacks), when allowed.
    public var switchAttributes: EventAttributes?
    public var dataPages: Int
    /// Bytes of the record queue made ready before the events are enabled (see ``RecordQueue``):
    /// what the rings hand over in ``RecordingPlanner/queueReserveSeconds`` at the requested
    /// rate when stack copies make samples large, 0 otherwise.
    public var queueReserveBytes = 0
    public var degradations: [Degradation]
}

/// Decides, from what the user asked and what the probe found, what to open.
public enum RecordingPlanner {
    /// Finds a tracepoint's format (with its id): tracefs on this machine unless a test says otherwise.
    public typealias TracepointLookup = @Sendable (_ subsystem: String, _ name: String) throws(Tracefs.LookupError) -> (format: TracepointFormat, text: String)

    public static func plan(_ options: RecordOptions, probe: PrivilegeProbe,
                            tracepoints: TracepointLookup = { subsystem, name throws(Tracefs.LookupError) in
                                guard let tracefs = Tracefs.locate() else { throw .notMounted }
                                return try tracefs.formatAndText(subsystem: subsystem, name: name)
                            }) throws(PlanRefusal) -> RecordingPlan {
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

        // The template every event starts from: the first event's kind when it has one.
        var attributes = EventAttributes(kind: options.events.first?.kind ?? .cpuClock)
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

        if !options.user {
            guard options.kernel, probe.mayProfileKernel else {
                throw PlanRefusal(kind: .kernelOnlyNotAllowed,
                                  reason: options.kernel
                                      ? "--all-kernel samples only the kernel, which kernel.perf_event_paranoid=\(paranoid) does not allow without CAP_PERFMON"
                                      : "--all-kernel and --all-user together leave nothing to sample",
                                  remedy: options.kernel ? "sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)" : "give only one of them")
            }
            attributes.flags.insert(.excludeUser)
        }
        // Events whose levels the user chose (`:u`, `:k`) keep them; the others follow the rule below.
        let levelsFollowRule = options.events.isEmpty || options.events.contains { !$0.modifiers.restrictsLevels && !isTracepoint($0) }
        if !options.kernel {
            attributes.flags.formUnion([.excludeKernel, .excludeHypervisor])
        } else if !probe.mayProfileKernel {
            attributes.flags.formUnion([.excludeKernel, .excludeHypervisor])
            if levelsFollowRule { degradations.append(Degradation(.kernelFramesDropped,
                reason: "kernel frames left out: kernel.perf_event_paranoid=\(paranoid) allows user space only without CAP_PERFMON",
                remedy: "sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)")) }
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
        if attributes.sampleType.contains(.stackUser), probe.settings.unlimitedLockedMemory, options.dataPages == RecordOptions.defaultDataPages {
            pages = attributes.sampleStackUser > 1024 ? 1024 : 256
            if options.callGraph == .auto {
                // auto's copy grows with the ring (up to 64 KiB): give it 64 ms of samples at
                // 4 kHz on few CPUs, keeping all rings together within 64 MiB of locked memory.
                let cpus = max(1, settings.onlineCPUs.count)
                pages = min(Self.largeRingPages, max(1024, Self.largeRingPages * 4 / cpus))
            }
        }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ringCount = Self.ringCount(options.target, settings: settings)
        let lockedBudget = Self.lockedMemoryBudget(settings)
        // auto's copy is sized from the ring before it grows for the rate below: from the user's
        // per-CPU share of perf_event_mlock_kb where locked memory is limited.
        var copyRingPages = pages
        if let budget = lockedBudget {
            let fitting = budget / ringCount / pageSize - 1
            if fitting >= 1 && pages > fitting {
                let shrunk = 1 << (Int.bitWidth - fitting.leadingZeroBitCount - 1)
                degradations.append(Degradation(.ringBufferShrunk,
                    reason: "ring buffers shrunk to \(shrunk) data pages per CPU (asked for \(pages)) to fit this user's locked memory (\(Self.budgetText(settings)))",
                    remedy: "sysctl kernel.perf_event_mlock_kb=\((pages + 1) * pageSize / 1024)"))
                pages = shrunk
            }
            if let share = settings.mlockKiB, share * 1024 / pageSize - 1 >= 1 {
                let sharePages = share * 1024 / pageSize - 1
                copyRingPages = min(pages, 1 << (Int.bitWidth - sharePages.leadingZeroBitCount - 1))
            }
        }
        if options.callGraph == .auto, attributes.sampleType.contains(.stackUser) {
            attributes.sampleStackUser = autoStackCopySize(ringBytes: copyRingPages * pageSize)
        }
        // Stack copies at a high rate: the kernel reserves the whole copy per sample, so give
        // each ring room for ``ringHoldSeconds`` of samples where privilege allows (root: up to
        // ``largestRingPages`` and 1/32 of memory in all; a user: their locked-memory budget).
        if attributes.sampleType.contains(.stackUser), options.period == nil, options.dataPages == RecordOptions.defaultDataPages {
            let bytesPerSecond = Double(attributes.samplePeriodOrFrequency) * Double(Self.reservedSampleBytes(attributes))
            let wanted = Self.pagesHolding(bytes: bytesPerSecond * Self.ringHoldSeconds, pageSize: pageSize)
            let limit: Int
            if let budget = lockedBudget {
                limit = Self.powerOfTwo(atMost: budget / ringCount / pageSize - 1)
            } else {
                let memory = Int(sysconf(Int32(_SC_PHYS_PAGES))) * pageSize
                limit = min(Self.largestRingPages, Self.powerOfTwo(atMost: min(1 << 30, memory / 32) / ringCount / pageSize))
            }
            pages = max(pages, min(wanted, limit))
            let held = Double(pages * pageSize) / bytesPerSecond
            if lockedBudget != nil, wanted > pages, held < Self.shortHoldSeconds {
                let perCPU = (wanted + 1) * pageSize * ringCount / max(1, settings.onlineCPUs.count) / 1024
                degradations.append(Degradation(.ringBufferShrunk,
                    reason: "ring buffers of \(pages * pageSize / 1024) KiB per CPU (this user's locked memory: \(Self.budgetText(settings))) hold \(Int(held * 1000)) ms of samples at \(attributes.samplePeriodOrFrequency) Hz with \(attributes.sampleStackUser)-byte stack copies: records are lost whenever Perch cannot run for that long",
                    remedy: "sysctl kernel.perf_event_mlock_kb=\(perCPU), or ulimit -l \((wanted + 1) * pageSize * ringCount / 1024)"))
            }
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
        var events: [PlannedEvent] = []
        for (index, specification) in (options.events.isEmpty ? [EventSpecification(source: .known(.cpuClock))] : options.events).enumerated() {
            var event = try planEvent(specification, first: index == 0, template: attributes, probe: probe,
                                      tracepoints: tracepoints, degradations: &degradations)
            if index > 0, event.tracepoint != nil, options.cpuWideTracepoints {
                if case .systemWide = options.target {
                    // Already every task.
                } else if probe.mayProfileSystemWide {
                    event.cpuWide = true
                    // Not tied to a task: enable_on_exec and inherit mean nothing here.
                    event.attributes.flags.subtract([.disabled, .enableOnExec, .inherit])
                } else {
                    degradations.append(Degradation(.other,
                        reason: "\(event.name) follows the recorded tasks only (CPU-wide events need CAP_PERFMON or kernel.perf_event_paranoid <= 0): events raised for them from other tasks and interrupts are missed",
                        remedy: "sysctl kernel.perf_event_paranoid=0, or setcap cap_perfmon+ep $(which perch)"))
                }
            }
            events.append(event)
        }
        var plan = RecordingPlan(events: events, switchAttributes: switchAttributes, dataPages: pages, degradations: degradations)
        if attributes.sampleType.contains(.stackUser), options.period == nil {
            let bytesPerSecond = Double(attributes.samplePeriodOrFrequency) * Double(Self.queuedSampleBytes(attributes)) * Double(ringCount)
            plan.queueReserveBytes = Int(min(Double(RecordQueue.defaultCapacityBytes), bytesPerSecond * Self.queueReserveSeconds))
        }
        return plan
    }

    private static func isTracepoint(_ specification: EventSpecification) -> Bool {
        if case .tracepoint = specification.source { return true }
        return false
    }

    /// One event from the template: its kind (or tracepoint id), its modifiers as attribute bits,
    /// and what this machine and user allow of them.
    static func planEvent(_ specification: EventSpecification, first: Bool, template: EventAttributes,
                          probe: PrivilegeProbe, tracepoints: TracepointLookup,
                          degradations: inout [Degradation]) throws(PlanRefusal) -> PlannedEvent {
        let paranoid = probe.settings.paranoid.map(String.init) ?? "unreadable"
        let modifiers = specification.modifiers
        var attributes = template
        if !first {
            // The main event's process records cover every task; the others only sample.
            attributes.flags.subtract([.mmap, .mmap2, .comm, .commExec, .task, .buildID, .contextSwitch])
        }
        var event = PlannedEvent(attributes: attributes, name: specification.description)
        event.levelsChosen = modifiers.restrictsLevels
        switch specification.source {
        case .raw(let config) where !probe.hardwarePMU:
            throw PlanRefusal(kind: .noSuchEvent,
                              reason: "raw event '\(specification)' (config 0x\(String(config, radix: 16))) needs a hardware PMU, and this machine has none (as in most VMs); perch list shows the events there are",
                              remedy: "")
        case .known, .raw:
            let kind = specification.kind ?? .cpuClock
            event.attributes.kind = kind
            if kind.isHardware && !probe.hardwarePMU {
                event.attributes.kind = .cpuClock
                var fallback = specification
                fallback.source = .known(.cpuClock)
                fallback.modifiers.precision = 0
                fallback.modifiers.maximumPrecision = false
                event.name = fallback.description
                degradations.append(Degradation(.hardwareEventUnavailable,
                    reason: "hardware event '\(specification)' is not supported here (no hardware PMU, as in most VMs): sampling \(event.name) instead"
                        + (modifiers.precision > 0 || modifiers.maximumPrecision ? " (precise_ip is a PMU feature: dropped)" : ""),
                    remedy: nil))
            }
        case .tracepoint(let subsystem, let name):
            guard probe.mayProfileKernel else {
                throw PlanRefusal(kind: .tracepointNotAllowed,
                                  reason: "tracepoint \(subsystem):\(name) fires in the kernel, and kernel.perf_event_paranoid=\(paranoid) forbids kernel sampling without CAP_PERFMON",
                                  remedy: "sysctl kernel.perf_event_paranoid=-1 (tracepoint fields need -1), or setcap cap_perfmon+ep $(which perch) as root")
            }
            let found: (format: TracepointFormat, text: String)
            do {
                found = try tracepoints(subsystem, name)
            } catch {
                if case .noSuchTracepoint = error {
                    throw PlanRefusal(kind: .noSuchEvent, reason: "\(error)", remedy: "")
                }
                throw PlanRefusal(kind: .tracepointNotAllowed, reason: "tracepoint \(subsystem):\(name): \(error)",
                                  remedy: "run perch as root (tracefs is root's by default), or mount tracefs readable for this user (mount -o remount,mode=755 /sys/kernel/tracing) with CAP_PERFMON")
            }
            event.tracepoint = found
            event.attributes.kind = .other(type: EventType.tracepoint.rawValue, config: found.format.id)
            // Every hit is a sample, as perf records tracepoints (-c 1).
            event.attributes.flags.remove(.frequency)
            event.attributes.samplePeriodOrFrequency = 1
            // Tracepoints fire in the kernel: with exclude_kernel they would never count.
            if !modifiers.restrictsLevels { event.attributes.flags.subtract([.excludeKernel, .excludeHypervisor]) }
            // The kernel hands raw tracepoint data only to CAP_PERFMON or at paranoid -1 (measured:
            // EPERM as an unprivileged user at paranoid 0..2).
            if probe.hasPerfmon || probe.settings.paranoid == -1 {
                event.attributes.sampleType.insert(.raw)
            } else {
                degradations.append(Degradation(.other,
                    reason: "\(specification)'s fields left out: raw tracepoint data needs CAP_PERFMON or kernel.perf_event_paranoid=-1 (it is \(paranoid)); its samples are still recorded",
                    remedy: "sysctl kernel.perf_event_paranoid=-1, or setcap cap_perfmon+ep $(which perch)"))
            }
        }
        if modifiers.restrictsLevels {
            event.attributes.flags.subtract([.excludeUser, .excludeKernel, .excludeHypervisor])
            event.attributes.flags.formUnion(modifiers.excludedLevels)
            if (modifiers.kernel || modifiers.hypervisor) && !probe.mayProfileKernel {
                throw PlanRefusal(kind: .kernelNotAllowed,
                                  reason: "'\(specification)' samples the kernel, which kernel.perf_event_paranoid=\(paranoid) forbids without CAP_PERFMON",
                                  remedy: "sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch); or sample user space only with :u (or --user-only)")
            }
        }
        if modifiers.precision > 0 || modifiers.maximumPrecision {
            if event.attributes.kind.isHardware || event.attributes.kind.typeNumber == EventType.raw.rawValue {
                event.attributes.preciseIP = modifiers.maximumPrecision ? 3 : modifiers.precision
                event.lowersPrecision = modifiers.maximumPrecision
            } else if case .hardwareEventUnavailable? = degradations.last?.kind, event.name != specification.description {
                // Said with the fallback.
            } else {
                // The kernel takes precise_ip on software events and tracepoints and ignores it
                // (measured: open succeeds for 1...3). Say so rather than pretend.
                degradations.append(Degradation(.other,
                    reason: "':\(modifiers.letters)' has no effect on \(specification.source): precise_ip is a hardware PMU feature, and the kernel ignores it on software events and tracepoints",
                    remedy: nil))
            }
        }
        return event
    }

    /// Seconds of samples a ring holds at the requested rate when stack copies make samples large:
    /// how long the ring reader may be kept from running before the kernel drops records.
    static let ringHoldSeconds = 0.05
    /// Seconds of records at the requested rate the record queue holds ready from the start, so
    /// the ring reader takes memory that is already mapped while the writer is busy (reading
    /// /proc at the start, a disk that stalls) instead of faulting page by page: measured at
    /// 50 kHz with dwarf stacks on both CPUs, first-touch faults made the reader fall behind
    /// the rings for 100-200 ms at the start of most recordings.
    static let queueReserveSeconds = 0.1
    /// Below this, a note says the rings are short and how to get more.
    static let shortHoldSeconds = 0.02
    /// The largest ring the rate asks for where locked memory is not limited (32 MiB).
    public static let largestRingPages = 8192

    /// Bytes the kernel reserves in the ring for one sample: the fixed fields, a kernel chain of
    /// 32 entries, the user registers, and the whole requested stack copy, filled or not.
    static func reservedSampleBytes(_ attributes: EventAttributes) -> Int {
        let chain = attributes.sampleType.contains(.callchain) ? 8 + 32 * 8 : 0
        let registers = attributes.sampleType.contains(.regsUser) ? 8 + 8 * attributes.sampleRegsUser.nonzeroBitCount : 0
        let stack = attributes.sampleType.contains(.stackUser) ? 16 + Int(attributes.sampleStackUser) : 0
        return 64 + chain + registers + stack
    }

    /// Bytes one sample takes in the record queue, for sizing its reserve: the ring reader cuts
    /// each stack copy to the stack in use, which is mostly under ``typicalStackBytes``.
    static func queuedSampleBytes(_ attributes: EventAttributes) -> Int {
        let copy = attributes.sampleType.contains(.stackUser) ? Int(attributes.sampleStackUser) : 0
        return reservedSampleBytes(attributes) - copy + min(copy, typicalStackBytes)
    }

    static let typicalStackBytes = 8192

    /// The rings a recording maps: one per recorded CPU.
    static func ringCount(_ target: RecordingTarget, settings: KernelSettings) -> Int {
        if case .systemWide(let cpus?, _) = target {
            return max(1, settings.onlineCPUs.filter { cpus.contains($0) }.count)
        }
        return max(1, settings.onlineCPUs.count)
    }

    /// Bytes of ring buffer this user may map, or nil when unlimited (CAP_IPC_LOCK, paranoid -1,
    /// or no RLIMIT_MEMLOCK). The kernel allows perf_event_mlock_kb per online CPU (shared by all
    /// of the user's recordings), and beyond it charges RLIMIT_MEMLOCK (per process).
    static func lockedMemoryBudget(_ settings: KernelSettings) -> Int? {
        guard !settings.unlimitedLockedMemory, let share = settings.mlockKiB else { return nil }
        guard let memlock = settings.memlockLimit else { return nil }
        return share * 1024 * max(1, settings.onlineCPUs.count) + Int(min(memlock, UInt64(Int.max / 2)))
    }

    static func budgetText(_ settings: KernelSettings) -> String {
        "kernel.perf_event_mlock_kb=\(settings.mlockKiB.map(String.init) ?? "?") × \(settings.onlineCPUs.count) CPUs + RLIMIT_MEMLOCK \(settings.memlockLimit.map { "\($0 / 1024) KiB" } ?? "unlimited")"
    }

    static func pagesHolding(bytes: Double, pageSize: Int) -> Int {
        let pages = max(1, Int((bytes / Double(pageSize)).rounded(.up)))
        return pages <= 1 ? 1 : 1 << (Int.bitWidth - (pages - 1).leadingZeroBitCount)
    }

    static func powerOfTwo(atMost value: Int) -> Int {
        value < 1 ? 1 : 1 << (Int.bitWidth - value.leadingZeroBitCount - 1)
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
