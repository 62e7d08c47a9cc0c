import PerfABI
import PerfEvents
import Recording
import Testing

/// `-e` lists through the planner: modifiers become attribute bits, and what this user may not
/// do is refused with the reason (probes built by hand, tracefs replaced by a lookup).
@Suite struct EventModifierPlanningTests {
    static func options(_ list: String) throws -> RecordOptions {
        var options = RecordOptions(target: .launch(["true"]))
        options.events = try EventSpecification.parseList(list).flatMap { $0 }
        return options
    }

    static let schedSwitch: RecordingPlanner.TracepointLookup = { subsystem, name throws(Tracefs.LookupError) in
        guard subsystem == "sched", name == "sched_switch" else { throw .noSuchTracepoint("\(subsystem):\(name)") }
        let text = "name: sched_switch\nID: 372\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
        return (try! TracepointFormat(parsing: text), text)
    }

    @Test func userModifierExcludesKernelAndHypervisor() throws {
        let plan = try RecordingPlanner.plan(try Self.options("cpu-clock:u,page-faults"), probe: RecordingPlannerTests.probe(paranoid: 1))
        #expect(plan.events.map(\.name) == ["cpu-clock:u", "page-faults"])
        #expect(plan.events[0].attributes.flags.isSuperset(of: [.excludeKernel, .excludeHypervisor]))
        #expect(!plan.events[0].attributes.flags.contains(.excludeUser))
        #expect(!plan.events[1].attributes.flags.contains(.excludeKernel))
        // Only the main event carries the process records.
        #expect(plan.events[0].attributes.flags.isSuperset(of: [.mmap, .comm, .task]))
        #expect(plan.events[1].attributes.flags.isDisjoint(with: [.mmap, .mmap2, .comm, .task, .buildID]))
        #expect(plan.events[1].attributes.sampleType.contains(.identifier))
    }

    @Test func kernelModifierExcludesUserAndIsRefusedAtParanoid2() throws {
        let allowed = try RecordingPlanner.plan(try Self.options("cpu-clock:k"), probe: RecordingPlannerTests.probe(paranoid: 1))
        #expect(allowed.attributes.flags.isSuperset(of: [.excludeUser, .excludeHypervisor]) && !allowed.attributes.flags.contains(.excludeKernel))
        #expect {
            try RecordingPlanner.plan(try Self.options("cpu-clock:k"), probe: RecordingPlannerTests.probe(paranoid: 2))
        } throws: { ($0 as? PlanRefusal)?.kind == .kernelNotAllowed && "\($0)".contains("CAP_PERFMON") }
    }

    @Test func cyclesWithUserModifierFallsBackKeepingIt() throws {
        let plan = try RecordingPlanner.plan(try Self.options("cycles:u"), probe: RecordingPlannerTests.probe(hardwarePMU: false))
        #expect(plan.attributes.kind == .cpuClock && plan.events[0].name == "cpu-clock:u")
        #expect(plan.attributes.flags.contains(.excludeKernel))
        #expect(RecordingPlannerTests.kinds(plan) == [.hardwareEventUnavailable])
    }

    @Test func precisionGoesToPreciseIPOnHardwareAndIsSaidToBeIgnoredOnSoftware() throws {
        let hardware = try RecordingPlanner.plan(try Self.options("cycles:pp,instructions:P"), probe: RecordingPlannerTests.probe())
        #expect(hardware.events[0].attributes.preciseIP == 2 && !hardware.events[0].lowersPrecision)
        #expect(hardware.events[1].attributes.preciseIP == 3 && hardware.events[1].lowersPrecision)
        let software = try RecordingPlanner.plan(try Self.options("cpu-clock:p"), probe: RecordingPlannerTests.probe())
        #expect(software.degradations.contains { $0.reason.contains("no effect on cpu-clock") })
    }

    @Test func rawEventsNeedAPMU() throws {
        let plan = try RecordingPlanner.plan(try Self.options("r003c:u"), probe: RecordingPlannerTests.probe())
        #expect(plan.attributes.kind.typeNumber == EventType.raw.rawValue && plan.attributes.kind.config == 0x3c)
        #expect(plan.events[0].name == "r3c:u")
        #expect {
            try RecordingPlanner.plan(try Self.options("r003c"), probe: RecordingPlannerTests.probe(hardwarePMU: false))
        } throws: { ($0 as? PlanRefusal)?.kind == .noSuchEvent && "\($0)".contains("needs a hardware PMU") }
    }

    @Test func tracepointSamplesEveryHitWithRawDataWhereAllowed() throws {
        let root = try RecordingPlanner.plan(try Self.options("cpu-clock,sched:sched_switch"),
                                             probe: RecordingPlannerTests.probe(capabilities: [.perfmon]), tracepoints: Self.schedSwitch)
        let tracepoint = root.events[1]
        #expect(tracepoint.name == "sched:sched_switch")
        #expect(tracepoint.attributes.kind.typeNumber == EventType.tracepoint.rawValue && tracepoint.attributes.kind.config == 372)
        #expect(tracepoint.attributes.sampleType.contains(.raw) && tracepoint.attributes.period == 1)
        #expect(!tracepoint.attributes.flags.contains(.excludeKernel))
        // paranoid 1: samples, but the kernel keeps the raw data to CAP_PERFMON or paranoid -1.
        let paranoid1 = try RecordingPlanner.plan(try Self.options("sched:sched_switch"), probe: RecordingPlannerTests.probe(paranoid: 1),
                                                  tracepoints: Self.schedSwitch)
        #expect(!paranoid1.attributes.sampleType.contains(.raw))
        #expect(paranoid1.degradations.contains { $0.reason.contains("fields left out") })
        #expect {
            try RecordingPlanner.plan(try Self.options("sched:sched_switch"), probe: RecordingPlannerTests.probe(paranoid: 2), tracepoints: Self.schedSwitch)
        } throws: { ($0 as? PlanRefusal)?.kind == .tracepointNotAllowed }
        #expect {
            try RecordingPlanner.plan(try Self.options("sched:nope"), probe: RecordingPlannerTests.probe(paranoid: -1), tracepoints: Self.schedSwitch)
        } throws: { ($0 as? PlanRefusal)?.kind == .noSuchEvent }
        let hidden: RecordingPlanner.TracepointLookup = { _, _ throws(Tracefs.LookupError) in
            throw .notReadable(path: "/sys/kernel/tracing", mode: 0o40700, owner: 0)
        }
        #expect {
            try RecordingPlanner.plan(try Self.options("sched:sched_switch"), probe: RecordingPlannerTests.probe(capabilities: [.perfmon]), tracepoints: hidden)
        } throws: { ($0 as? PlanRefusal)?.kind == .tracepointNotAllowed && "\($0)".contains("mode 700") }
    }
}
