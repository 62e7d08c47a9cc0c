import PerfABI
import PerfEvents
import Recording
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The planner as a pure function: a request and what a probe found → the events to open.
/// Probes are built by hand, so nothing here depends on this machine's kernel settings.
@Suite struct RecordingPlannerTests {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A probe on Linux 6.18 where perf_event_open works, with the given settings.
    static func probe(paranoid: Int? = 2, maxSampleRate: Int? = 100_000, mlockKiB: Int? = 516,
                      capabilities: [Capability] = [], hardwarePMU: Bool = true) -> PrivilegeProbe {
        let settings = KernelSettings(
            paranoid: paranoid, maxSampleRate: maxSampleRate, mlockKiB: mlockKiB, kptrRestrict: 0,
            onlineCPUs: [0, 1], memlockLimit: 8 << 20,
            effectiveCapabilities: capabilities.reduce(0) { $0 | 1 << UInt64($1.rawValue) }, release: "6.18.0")
        return PrivilegeProbe(settings: settings, kernelVersion: (6, 18), seccompMode: 0,
                              perfEventOpenWorks: true, hardwarePMU: hardwarePMU)
    }

    static func launch(_ configure: (inout RecordOptions) -> Void = { _ in }) -> RecordOptions {
        var options = RecordOptions(target: .launch(["true"]))
        configure(&options)
        return options
    }

    static func kinds(_ plan: RecordingPlan) -> [Degradation.Kind] { plan.degradations.map(\.kind) }

    @Test func hardwareEventFallsBackToCPUClockWithoutPMU() throws {
        let options = Self.launch { $0.event = .cpuCycles }
        let plan = try RecordingPlanner.plan(options, probe: Self.probe(hardwarePMU: false))
        #expect(plan.attributes.kind == .cpuClock)
        #expect(Self.kinds(plan).contains(.hardwareEventUnavailable))

        let withPMU = try RecordingPlanner.plan(options, probe: Self.probe(hardwarePMU: true))
        #expect(withPMU.attributes.kind == .cpuCycles)
        #expect(!Self.kinds(withPMU).contains(.hardwareEventUnavailable))
    }

    @Test func paranoid2WithoutPerfmonExcludesKernel() throws {
        let options = Self.launch()
        let plan = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 2))
        #expect(plan.attributes.flags.isSuperset(of: [.excludeKernel, .excludeHypervisor]))
        #expect(Self.kinds(plan).contains(.kernelFramesDropped))

        let privileged = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 2, capabilities: [.perfmon]))
        #expect(!privileged.attributes.flags.contains(.excludeKernel))
        #expect(!Self.kinds(privileged).contains(.kernelFramesDropped))

        let paranoid1 = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 1))
        #expect(!paranoid1.attributes.flags.contains(.excludeKernel))
    }

    @Test func frequencyAboveMaxSampleRateIsClamped() throws {
        let options = Self.launch { $0.frequency = 1_000_000 }
        let plan = try RecordingPlanner.plan(options, probe: Self.probe(maxSampleRate: 100_000))
        #expect(plan.attributes.flags.contains(.frequency))
        #expect(plan.attributes.samplePeriodOrFrequency == 100_000)
        #expect(Self.kinds(plan).contains(.frequencyClamped))

        let below = try RecordingPlanner.plan(Self.launch { $0.frequency = 4000 }, probe: Self.probe(maxSampleRate: 100_000))
        #expect(below.attributes.samplePeriodOrFrequency == 4000)
        #expect(!Self.kinds(below).contains(.frequencyClamped))
    }

    @Test func ringPagesShrinkToMlockBudget() throws {
        // A user may lock perf_event_mlock_kb per online CPU, and RLIMIT_MEMLOCK beyond it:
        // 516 KiB × 2 CPUs + 8 MiB over 2 rings is 1152 pages each (header pages included), so
        // rings of 1024 data pages.
        let budget = 516
        let perRing = (budget * 1024 * 2 + (8 << 20)) / 2 / Self.pageSize - 1
        let expected = 1 << (Int.bitWidth - perRing.leadingZeroBitCount - 1)
        let options = Self.launch { $0.dataPages = 4 * expected; $0.callGraph = .none }
        let plan = try RecordingPlanner.plan(options, probe: Self.probe(mlockKiB: budget))
        #expect(plan.dataPages == expected)
        #expect(Self.kinds(plan).contains(.ringBufferShrunk))

        // CAP_IPC_LOCK lifts the budget.
        let unlimited = try RecordingPlanner.plan(options, probe: Self.probe(mlockKiB: budget, capabilities: [.ipcLock]))
        #expect(unlimited.dataPages == 4 * expected)
        #expect(!Self.kinds(unlimited).contains(.ringBufferShrunk))
    }

    /// DWARF at 50 kHz reserves 8 KiB and more per sample: the rings grow to hold 50 ms of
    /// samples where locked memory allows (32 MiB as root), to the user's budget elsewhere with
    /// a note saying how long they last and how to get more; an explicit -m is kept.
    @Test func ringsGrowWithTheRateOfStackCopies() throws {
        let options = Self.launch { $0.callGraph = .dwarf(stackSize: 8192); $0.frequency = 50_000 }
        let root = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 1, capabilities: [.ipcLock]))
        #expect(root.dataPages == RecordingPlanner.largestRingPages)
        #expect(!Self.kinds(root).contains(.ringBufferShrunk))
        #expect(root.attributes.sampleStackUser == 8192)

        let user = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 1, mlockKiB: 516))
        #expect(user.dataPages == 1024)
        let note = try #require(user.degradations.first { $0.kind == .ringBufferShrunk })
        #expect(note.reason.contains("hold 9 ms of samples at 50000 Hz"), "\(note.reason)")
        #expect(note.remedy?.contains("sysctl kernel.perf_event_mlock_kb=") == true)

        // At 4 kHz the default rings already hold enough; an explicit -m is the user's.
        let slow = try RecordingPlanner.plan(Self.launch { $0.callGraph = .dwarf(stackSize: 8192) },
                                             probe: Self.probe(paranoid: 1, capabilities: [.ipcLock]))
        #expect(slow.dataPages == 1024)
        let explicit = try RecordingPlanner.plan(Self.launch { $0.callGraph = .dwarf(stackSize: 8192); $0.frequency = 50_000; $0.dataPages = 256 },
                                                 probe: Self.probe(paranoid: 1, capabilities: [.ipcLock]))
        #expect(explicit.dataPages == 256)
    }

    /// auto's stack copy fills the ring it gets: 32 KiB in a user's 516 KiB share, the kernel's
    /// maximum in the large rings of unlimited locked memory; the switch-stack event copies as much.
    @Test func autoStackCopyIsSizedFromTheRing() throws {
        let options = Self.launch { $0.callGraph = .auto; $0.contextSwitches = true }
        let user = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 1, mlockKiB: 516))
        // The copy follows the user's per-CPU share of perf_event_mlock_kb (128 pages); the ring
        // then grows into RLIMIT_MEMLOCK for the rate (4 kHz of 32 KiB copies).
        #expect(user.dataPages == 1024)
        #expect(Int(user.attributes.sampleStackUser) == 128 * Self.pageSize / 16)
        #expect(user.switchAttributes?.sampleStackUser == user.attributes.sampleStackUser)
        #expect(CallGraphMode(recordedWith: user.attributes) == .auto)

        let unlimited = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 1, capabilities: [.ipcLock]))
        #expect(unlimited.dataPages == 4096)
        #expect(unlimited.attributes.sampleStackUser == CallGraphMode.maximumStackSize)
        #expect(unlimited.attributes.sampleStackUser % 8 == 0)

        // A ring the user made tiny keeps auto's smallest copy; other modes keep theirs.
        let tiny = try RecordingPlanner.plan(Self.launch { $0.callGraph = .auto; $0.dataPages = 2 }, probe: Self.probe())
        #expect(tiny.attributes.sampleStackUser == CallGraphMode.autoStackSize)
        let dwarf = try RecordingPlanner.plan(Self.launch { $0.callGraph = .dwarf(stackSize: 8192) }, probe: Self.probe())
        #expect(dwarf.attributes.sampleStackUser == 8192)
    }

    @Test func systemWideRefusedWithoutPrivilege() throws {
        let options = RecordOptions(target: .systemWide(cpus: nil, command: nil))
        do {
            _ = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 2))
            Issue.record("system-wide was planned at paranoid 2 without CAP_PERFMON")
        } catch {
            #expect(error.kind == .systemWideNotAllowed)
        }
        _ = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 2, capabilities: [.perfmon]))
        _ = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 0))
    }

    @Test func blockedPerfEventOpenIsRefused() {
        var probe = Self.probe()
        probe.perfEventOpenWorks = false
        probe.perfEventOpenErrno = EACCES
        do {
            _ = try RecordingPlanner.plan(Self.launch(), probe: probe)
            Issue.record("planned although perf_event_open is blocked")
        } catch {
            #expect(error.kind == .perfEventsBlocked)
        }
    }

    static let modes: [CallGraphMode] = [
        .none, .framePointer, .auto,
        .dwarf(stackSize: CallGraphMode.defaultDWARFStackSize), .dwarf(stackSize: 8),
        .dwarf(stackSize: CallGraphMode.leafRepairStackSize), .dwarf(stackSize: CallGraphMode.maximumStackSize),
    ]

    /// Every mode, planned and written as a perf_event_attr, reads back as itself.
    @Test(arguments: modes) func callGraphModeRoundTrip(_ mode: CallGraphMode) throws {
        var applied = EventAttributes(kind: .cpuClock)
        mode.apply(to: &applied)
        #expect(CallGraphMode(recordedWith: applied) == mode)

        let plan = try RecordingPlanner.plan(Self.launch { $0.callGraph = mode }, probe: Self.probe(paranoid: 1))
        let bytes = plan.attributes.encoded()
        let decoded = bytes.withUnsafeBytes { EventAttributes(bytes: $0) }
        #expect(decoded == plan.attributes)
        #expect(CallGraphMode(recordedWith: decoded) == mode)
        #expect(CallGraphMode(parsing: mode.description) == mode)
    }

    /// Frame pointers without leaf repair (as system-wide records by default) still read as `fp`.
    @Test func framePointerWithoutLeafRepairReadsAsFramePointer() throws {
        let options = Self.launch { $0.callGraph = .framePointer; $0.leafRepair = false }
        let plan = try RecordingPlanner.plan(options, probe: Self.probe(paranoid: 1))
        #expect(!plan.attributes.sampleType.contains(.stackUser))
        #expect(CallGraphMode(recordedWith: plan.attributes) == .framePointer)
    }
}
