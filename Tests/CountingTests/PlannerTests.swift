import PerfABI
import PerfEvents
import Recording
import Testing
@testable import Counting
#if canImport(Glibc)
import Glibc
#endif

/// The counting planner decides from a probe built by hand, so nothing here depends on this
/// machine's settings.
@Suite struct PlannerTests {
    static func probe(paranoid: Int? = 2, capabilities: [Capability] = [], hardwarePMU: Bool = false,
                      works: Bool = true) -> PrivilegeProbe {
        let settings = KernelSettings(paranoid: paranoid, maxSampleRate: 100_000, mlockKiB: 516, kptrRestrict: 0,
                                      onlineCPUs: [0, 1], memlockLimit: 8 << 20,
                                      effectiveCapabilities: capabilities.reduce(0) { $0 | 1 << UInt64($1.rawValue) },
                                      release: "6.18.0")
        return PrivilegeProbe(settings: settings, kernelVersion: (6, 18), seccompMode: 0, perfEventOpenWorks: works,
                              perfEventOpenErrno: works ? nil : EACCES, hardwarePMU: hardwarePMU)
    }

    @Test func defaultSetAtParanoid2CountsUserSpaceAndSaysSo() throws {
        let plan = try CountingPlanner.plan(nil, target: .launch(["true"]), probe: Self.probe())
        #expect(plan.events.map(\.name) == ["task-clock:u", "context-switches:u", "cpu-migrations:u", "page-faults:u",
                                            "cycles:u", "instructions:u", "branches:u", "branch-misses:u"])
        #expect(plan.events[0].attributes.flags.isSuperset(of: [.excludeKernel, .excludeHypervisor, .inherit, .enableOnExec, .disabled]))
        #expect(plan.events[1].availability != .countable)  // counts only in the kernel
        #expect(plan.events[3].availability == .countable)
        #expect(plan.events[4].availability == .unsupported("no hardware PMU on this machine (as in most VMs)"))
        #expect(plan.degradations.count == 2)
        #expect(plan.degradations[0].description.contains("user space only"))
        #expect(!plan.degradations[0].description.contains("cycles"))
    }

    @Test func withPerfmonEverythingIsCountedAsNamed() throws {
        let plan = try CountingPlanner.plan(nil, target: .launch(["true"]), probe: Self.probe(capabilities: [.perfmon], hardwarePMU: true))
        #expect(plan.events.map(\.name) == ["task-clock", "context-switches", "cpu-migrations", "page-faults",
                                            "cycles", "instructions", "branches", "branch-misses"])
        #expect(plan.events.allSatisfy { $0.availability == .countable })
        #expect(plan.degradations.isEmpty)
        let systemWide = try CountingPlanner.plan(nil, target: .systemWide(cpus: nil, command: nil), probe: Self.probe(capabilities: [.perfmon]))
        #expect(systemWide.events[0].name == "cpu-clock")
        #expect(!systemWide.events[0].attributes.flags.contains(.inherit))
    }

    @Test func groupsAreReadTogether() throws {
        let groups = try EventSpecification.parseList("{task-clock,page-faults}:u,context-switches:k")
        let plan = try CountingPlanner.plan(groups, target: .attach(pids: [getpid()]), probe: Self.probe(paranoid: 1))
        #expect(plan.groups.count == 2)
        #expect(plan.groups[0].allSatisfy { $0.attributes.readFormat.contains(.group) })
        #expect(plan.groups[0].allSatisfy { $0.attributes.flags.contains(.excludeKernel) && !$0.attributes.flags.contains(.excludeUser) })
        #expect(plan.groups[1][0].attributes.flags.contains(.excludeUser))
        #expect(!plan.groups[1][0].attributes.readFormat.contains(.group))
        #expect(plan.groups[0][0].attributes.flags.contains(.inherit) && !plan.groups[0][0].attributes.flags.contains(.enableOnExec))
    }

    @Test func kernelOnlyEventIsLeftOutWithAReason() throws {
        let plan = try CountingPlanner.plan(try EventSpecification.parseList("task-clock:k"), target: .launch(["true"]), probe: Self.probe())
        guard case .notPermitted(let reason) = plan.events[0].availability else { Issue.record("counted"); return }
        #expect(reason.contains("perf_event_paranoid"))
        #expect(plan.degradations.count == 1)
    }

    @Test func refusals() {
        #expect(throws: CountingRefusal.self) {
            try CountingPlanner.plan(nil, target: .systemWide(cpus: nil, command: nil), probe: Self.probe())
        }
        #expect(throws: CountingRefusal.self) {
            try CountingPlanner.plan(nil, target: .launch(["true"]), probe: Self.probe(works: false))
        }
    }

    @Test func missingTracepointIsUnsupported() throws {
        let plan = try CountingPlanner.plan(try EventSpecification.parseList("sched:no_such_event"), target: .launch(["true"]),
                                            probe: Self.probe(paranoid: -1), tracepointID: { _, _ in nil })
        guard case .unsupported = plan.events[0].availability else { Issue.record("planned as countable"); return }
        let found = try CountingPlanner.plan(try EventSpecification.parseList("sched:sched_switch"), target: .launch(["true"]),
                                             probe: Self.probe(paranoid: -1), tracepointID: { _, _ in 316 })
        #expect(found.events[0].attributes.kind == .other(type: 2, config: 316))
    }
}
