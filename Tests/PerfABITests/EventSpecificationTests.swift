import Testing
@testable import PerfABI

@Suite struct EventSpecificationTests {
    @Test func namesWithModifiersSetPerfsExcludeBits() throws {
        let user = try EventSpecification(parsing: "cpu-clock:u")
        #expect(user.kind == .cpuClock)
        #expect(user.modifiers.excludedLevels == [.excludeKernel, .excludeHypervisor])
        let kernel = try EventSpecification(parsing: "cycles:k")
        #expect(kernel.kind == .cpuCycles)
        #expect(kernel.modifiers.excludedLevels == [.excludeUser, .excludeHypervisor])
        let both = try EventSpecification(parsing: "cycles:uk")
        #expect(both.modifiers.excludedLevels == [.excludeHypervisor])
        #expect(try EventSpecification(parsing: "cycles").modifiers.excludedLevels == [])
    }

    @Test func precisionLetters() throws {
        #expect(try EventSpecification(parsing: "cycles:ppp").modifiers.precision == 3)
        #expect(try EventSpecification(parsing: "cycles:upp").modifiers.precision == 2)
        #expect(try EventSpecification(parsing: "cycles:P").modifiers.maximumPrecision)
        #expect(throws: EventSpecificationError.tooPrecise("pppp")) { try EventSpecification(parsing: "cycles:pppp") }
        #expect(throws: EventSpecificationError.unknownModifier("x", in: "ux")) { try EventSpecification(parsing: "cycles:ux") }
    }

    @Test func tracepointsAndRawEvents() throws {
        let tracepoint = try EventSpecification(parsing: "sched:sched_switch")
        #expect(tracepoint.source == .tracepoint(subsystem: "sched", name: "sched_switch"))
        #expect(tracepoint.kind == nil)
        #expect(tracepoint.description == "sched:sched_switch")
        let withModifier = try EventSpecification(parsing: "sched:sched_wakeup:k")
        #expect(withModifier.modifiers.kernel)
        let raw = try EventSpecification(parsing: "r01c2:u")
        #expect(raw.kind == .other(type: 4, config: 0x1c2))
        #expect(raw.description == "r1c2:u")
        #expect(throws: EventSpecificationError.unknownEvent("nonsense")) { try EventSpecification(parsing: "nonsense") }
        #expect(throws: EventSpecificationError.unknownEvent("../etc:passwd")) { try EventSpecification(parsing: "../etc:passwd") }
        #expect(throws: EventSpecificationError.emptyModifiers("cycles:")) { try EventSpecification(parsing: "cycles:") }
    }

    @Test func listsAndGroups() throws {
        let flat = try EventSpecification.parseList("cpu-clock,page-faults:u")
        #expect(flat.map { $0.map(\.description) } == [["cpu-clock"], ["page-faults:u"]])
        let grouped = try EventSpecification.parseList("{task-clock,context-switches}:u,cpu-clock")
        #expect(grouped.map { $0.map(\.description) } == [["task-clock:u", "context-switches:u"], ["cpu-clock"]])
        let own = try EventSpecification.parseList("{cycles:k,instructions}:u")
        #expect(own[0].map(\.description) == ["cycles:k", "instructions:u"])
        #expect(throws: EventSpecificationError.unbalancedBraces("{cycles,instructions")) { try EventSpecification.parseList("{cycles,instructions") }
        #expect(throws: EventSpecificationError.empty) { try EventSpecification.parseList("cycles,") }
        #expect(throws: EventSpecificationError.empty) { try EventSpecification.parseList("") }
    }
}

@Suite struct EventSpellingTests {
    /// perf prints an event back as it was typed (`cs:k`, not `context-switches:k`); the spelling
    /// is not part of the event's identity.
    @Test func theTypedSpellingIsKeptButDoesNotChangeTheEvent() throws {
        let typed = try EventSpecification(parsing: "cs:k")
        #expect(typed.typedName == "cs:k")
        #expect(typed.description == "context-switches:k")
        #expect(typed == EventSpecification(source: .known(.contextSwitches), modifiers: typed.modifiers))
        #expect(EventSpecification(source: .known(.cpuClock)).typedName == "cpu-clock")
        let group = try EventSpecification.parseList("{cs,faults}:u")
        #expect(group[0].map(\.typedName) == ["cs", "faults"])
        #expect(group[0].allSatisfy { $0.modifiers.user && !$0.modifiers.kernel })
    }
}
