import PerfABI
import PerfEvents
#if canImport(Glibc)
import Glibc
#endif

/// One row of `perch doctor`: a recording mode, whether it works here, why, and how to get it.
public struct DoctorCheck: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// Works fully.
        case works
        /// Works with something left out (`reason` says what).
        case degraded
        /// Perch refuses it (`remedy` says how to allow it).
        case refused
    }

    public enum Mode: String, Sendable, CaseIterable {
        case ownUserOnly = "own processes, user frames"
        case ownWithKernel = "own processes with kernel frames"
        case attachOtherUsers = "attach to other users' processes"
        case systemWide = "system-wide (-a)"
        case switchStacks = "context-switch stacks"
        case switchRecords = "context-switch records"
        case deschedNotification = "rr-style desched signal"
        case hardwareEvents = "hardware events"
        case kernelSymbols = "kernel symbols"
        case dwarfStackSize = "DWARF stack copy size"
    }

    public var mode: Mode
    public var outcome: Outcome
    public var reason: String
    public var remedy: String?
}

/// Checks each recording mode by opening real events on this machine, as this user.
public enum Doctor {
    public static func run(probe: PrivilegeProbe = .run()) -> [DoctorCheck] {
        let paranoid = probe.settings.paranoid.map(String.init) ?? "unreadable"
        let capabilityRemedy = "setcap cap_perfmon+ep $(which perch)"
        var checks: [DoctorCheck] = []
        func add(_ mode: DoctorCheck.Mode, _ outcome: DoctorCheck.Outcome, _ reason: String, _ remedy: String? = nil) {
            checks.append(DoctorCheck(mode: mode, outcome: outcome, reason: reason, remedy: remedy))
        }

        guard probe.perfEventOpenWorks else {
            let reason = probe.blockedReason ?? "perf_event_open is blocked"
            for mode in DoctorCheck.Mode.allCases { add(mode, .refused, reason, probe.blockedRemedy) }
            return checks
        }

        // Own processes, user space only: a sampling event with a mapped ring.
        if let failure = openSampling(pid: 0, cpu: -1, kernel: false) {
            add(.ownUserOnly, .refused, "a user-only sampling event on this process fails: \(failure)", probe.blockedRemedy)
        } else {
            add(.ownUserOnly, .works, "user-space sampling of your own processes is allowed at any paranoid level below 3")
        }

        // Own processes with kernel frames.
        if openSampling(pid: 0, cpu: -1, kernel: true) == nil {
            add(.ownWithKernel, .works, probe.hasPerfmon ? "CAP_PERFMON allows kernel sampling" : "kernel.perf_event_paranoid=\(paranoid) allows kernel sampling")
        } else {
            add(.ownWithKernel, .degraded, "kernel.perf_event_paranoid=\(paranoid) without CAP_PERFMON: Perch records user frames only",
                "sysctl kernel.perf_event_paranoid=1, or \(capabilityRemedy)")
        }

        // Another user's process: open an event on one, if there is one to try.
        if let other = otherUsersProcess() {
            if let failure = openSampling(pid: other.pid, cpu: -1, kernel: false) {
                add(.attachOtherUsers, .refused, "opening an event on pid \(other.pid) (uid \(other.uid)) fails: \(failure); it needs CAP_PERFMON or CAP_SYS_PTRACE",
                    "run perch as that user, or \(capabilityRemedy)")
            } else {
                add(.attachOtherUsers, .works, "events open on pid \(other.pid) (uid \(other.uid))")
            }
        } else if probe.hasPerfmon || probe.settings.hasCapability(.sysPtrace) {
            add(.attachOtherUsers, .works, "no other user's process to try; CAP_PERFMON/CAP_SYS_PTRACE allow it")
        } else {
            add(.attachOtherUsers, .refused, "no other user's process to try; without CAP_PERFMON or CAP_SYS_PTRACE the kernel's ptrace check refuses it",
                "run perch as the process's user, or \(capabilityRemedy)")
        }

        // System-wide: a CPU-wide event on CPU 0.
        let cpu = probe.settings.onlineCPUs.first ?? 0
        if let failure = openSampling(pid: -1, cpu: cpu, kernel: probe.mayProfileKernel) {
            add(.systemWide, .refused, "a CPU-wide event fails: \(failure); it needs CAP_PERFMON or kernel.perf_event_paranoid <= 0 (it is \(paranoid))",
                "\(capabilityRemedy), or sysctl kernel.perf_event_paranoid=0, or in a container --cap-add PERFMON")
        } else {
            add(.systemWide, .works, probe.hasPerfmon ? "CAP_PERFMON allows CPU-wide events" : "kernel.perf_event_paranoid=\(paranoid) allows CPU-wide events")
        }

        // Context-switch stacks: the context-switches counter must actually count.
        switch contextSwitchCounterCounts(kernel: probe.mayProfileKernel) {
        case .some(true):
            add(.switchStacks, .works, "the context-switches event counts; each switch-out can carry its stack")
        case .some(false):
            add(.switchStacks, .degraded, "the context-switches event opens but never counts with exclude_kernel=1 (kernel.perf_event_paranoid=\(paranoid)); off-CPU time is kept without stacks",
                "sysctl kernel.perf_event_paranoid=1, or \(capabilityRemedy)")
        case .none:
            add(.switchStacks, .degraded, "the context-switches event does not open here; off-CPU time is kept without stacks",
                "sysctl kernel.perf_event_paranoid=1, or \(capabilityRemedy)")
        }

        // Switch records through a dummy event.
        if switchRecordsArrive() {
            add(.switchRecords, .works, "a dummy event with context_switch=1 delivers PERF_RECORD_SWITCH")
        } else {
            add(.switchRecords, .refused, "no PERF_RECORD_SWITCH arrived from a dummy event with context_switch=1", probe.blockedRemedy)
        }

        do {
            let notifier = try DeschedNotifier(signal: SIGURG)
            add(.deschedNotification, .works, "DeschedNotifier arms with the \(notifier.mechanism.rawValue)")
        } catch {
            add(.deschedNotification, .refused, "no mechanism passes its self-test: \(error.reasons.joined(separator: "; "))",
                "sysctl kernel.perf_event_paranoid=1, or \(capabilityRemedy), or Linux >= 6.10")
        }

        if probe.hardwarePMU {
            add(.hardwareEvents, .works, "a hardware cycles counter opens")
        } else {
            add(.hardwareEvents, .degraded, "no hardware PMU (cycles gives ENOENT, as in most VMs): cycles and instructions fall back to cpu-clock")
        }

        if let hidden = kernelSymbolsHidden() {
            add(.kernelSymbols, .degraded, "/proc/kallsyms shows no addresses to this user (\(hidden), perf_event_paranoid=\(paranoid)): kernel frames show as [unknown]",
                probe.kernelAddressesRemedy)
        } else {
            add(.kernelSymbols, .works, "/proc/kallsyms shows addresses")
        }

        let stackSize = largestStackCopy()
        if stackSize >= 65528 {
            add(.dwarfStackSize, .works, "user stack copies up to 65528 bytes open")
        } else if stackSize > 0 {
            add(.dwarfStackSize, .degraded, "user stack copies open up to \(stackSize) bytes only")
        } else {
            add(.dwarfStackSize, .refused, "PERF_SAMPLE_STACK_USER does not open here", probe.blockedRemedy)
        }
        return checks
    }

    /// Opens a sampling event and maps a small ring; nil on success, else the reason.
    static func openSampling(pid: Int32, cpu: Int32, kernel: Bool) -> String? {
        var attributes = EventAttributes(kind: .cpuClock)
        attributes.samplePeriodOrFrequency = 1000
        attributes.flags = [.disabled, .frequency]
        if !kernel { attributes.flags.formUnion([.excludeKernel, .excludeHypervisor]) }
        attributes.sampleType = [.ip, .tid, .callchain]
        do {
            let event = try PerfEvent(attributes: attributes, pid: pid, cpu: cpu)
            _ = try RingBuffer(event: event, dataPageCount: 1)
            return nil
        } catch {
            return "\(error.reason) (errno \(error.errno))"
        }
    }

    /// Whether `context-switches` with `sample_period=1` counts real switches of this thread.
    static func contextSwitchCounterCounts(kernel: Bool) -> Bool? {
        var attributes = EventAttributes(kind: .contextSwitches)
        attributes.samplePeriodOrFrequency = 1
        attributes.flags = [.disabled]
        if !kernel { attributes.flags.formUnion([.excludeKernel, .excludeHypervisor]) }
        guard let event = try? PerfEvent(attributes: attributes, pid: 0, cpu: -1) else { return nil }
        try? event.enable()
        for _ in 0..<5 { usleep(1000) }
        try? event.disable()
        return ((try? event.readCount())?.value ?? 0) > 0
    }

    /// Whether a dummy event with `context_switch=1` delivers switch records for this thread.
    static func switchRecordsArrive() -> Bool {
        var attributes = EventAttributes(kind: .dummy)
        attributes.flags = [.disabled, .contextSwitch, .sampleIDAll, .excludeKernel, .excludeHypervisor]
        attributes.sampleType = [.tid, .time]
        guard let event = try? PerfEvent(attributes: attributes, pid: 0, cpu: -1),
              let ring = try? RingBuffer(event: event, dataPageCount: 1) else { return false }
        try? event.enable()
        for _ in 0..<3 { usleep(1000) }
        try? event.disable()
        var switches = 0
        ring.drain { record in
            if RecordDecoder.type(of: record) == RecordType.switchThread.rawValue { switches += 1 }
        }
        return switches > 0
    }

    /// The largest `sample_stack_user` that opens (0 when none).
    static func largestStackCopy() -> Int {
        for size in [65528, 32768, 16384, 8192] {
            var attributes = EventAttributes(kind: .cpuClock)
            attributes.samplePeriodOrFrequency = 1000
            attributes.flags = [.disabled, .frequency, .excludeKernel, .excludeHypervisor]
            attributes.sampleType = [.ip, .tid, .regsUser, .stackUser]
            attributes.sampleRegsUser = 0xff_0fff
            attributes.sampleStackUser = UInt32(size)
            if (try? PerfEvent(attributes: attributes, pid: 0, cpu: -1)) != nil { return size }
        }
        return 0
    }

    /// A process owned by another user, to try attaching to.
    static func otherUsersProcess() -> (pid: Int32, uid: UInt32)? {
        let me = geteuid()
        for pid in TaskDiscovery.allProcesses() where pid != getpid() {
            var info = stat()
            guard stat("/proc/\(pid)", &info) == 0, info.st_uid != me else { continue }
            // Skip kernel threads: per-task events on them behave differently.
            guard let maps = readProcFile("/proc/\(pid)/cmdline"), !maps.isEmpty else { continue }
            return (pid, info.st_uid)
        }
        return nil
    }

    /// Why /proc/kallsyms hides addresses, or nil when it shows them.
    static func kernelSymbolsHidden() -> String? {
        guard let file = fopen("/proc/kallsyms", "r") else { return "unreadable" }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        for _ in 0..<64 {
            guard fgets(&line, Int32(line.count), file) != nil else { break }
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let address = text.split(separator: " ").first.flatMap({ UInt64($0, radix: 16) }), address != 0 { return nil }
        }
        let restrict = readFirstLine("/proc/sys/kernel/kptr_restrict") ?? "unreadable"
        return "kernel.kptr_restrict=\(restrict)"
    }
}
