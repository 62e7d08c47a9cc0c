import PerfABI
import ProfileModel
import Testing

@testable import Profiling

struct StackCountsTests {
    @Test func aPairAccumulatesAndRowsKeepFirstSightOrder() {
        var counts = StackCounts()
        counts.add(thread: 1, node: 5, period: 100)
        counts.add(thread: 0, node: 5, period: 7)
        counts.add(thread: 1, node: 5, period: 250)
        #expect(counts.keys.map { [$0.thread, $0.node] } == [[1, 5], [0, 5]])
        #expect(counts.samples == [2, 1])
        #expect(counts.periods == [350, 7])
    }
}

struct LocationTableTests {
    @Test func eachDistinctLocationGetsOneId() {
        var table = LocationTable()
        let user = table.intern(.user(dso: 0, fileOffset: 0x40))
        #expect(user.id == 0 && user.isNew)
        #expect(table.intern(.user(dso: 0, fileOffset: 0x40)) == (0, false))
        // Same address, other kinds or DSOs: other locations.
        #expect(table.intern(.user(dso: 1, fileOffset: 0x40)).id == 1)
        #expect(table.intern(.kernel(address: 0x40)).id == 2)
        #expect(table.intern(.unmapped(address: 0x40)).id == 3)
        #expect(table.intern(.jit(pid: 0, address: 0x40)).id == 4)
        #expect(table.intern(.label(0)).id == 5)
        #expect(table.intern(.truncated).id == 6)
        #expect(table.intern(.truncated).isNew == false)
        #expect(table.locations[2] == .kernel(address: 0x40))
    }
}

struct ThreadTableTests {
    @Test func aRenamedThreadIsANewEntryAndCPUsSplitOnlyWhenAsked() {
        let model = ProcessModel()
        model.comm(pid: 4, tid: 4, name: "before", exec: false)
        var threads = ThreadTable(splitByCPU: false)
        let first = threads.id(pid: 4, tid: 4, cpu: 0, model: model)
        #expect(threads.id(pid: 4, tid: 4, cpu: 1, model: model) == first)
        model.comm(pid: 4, tid: 4, name: "after", exec: true)
        threads.namesChanged()
        let renamed = threads.id(pid: 4, tid: 4, cpu: 0, model: model)
        #expect(renamed != first)
        #expect(threads.threads.map(\.comm) == ["before", "after"])
        #expect(threads.threads.allSatisfy { $0.cpu == nil })

        var perCPU = ThreadTable(splitByCPU: true)
        let cpu0 = perCPU.id(pid: 4, tid: 4, cpu: 0, model: model)
        let cpu1 = perCPU.id(pid: 4, tid: 4, cpu: 1, model: model)
        #expect(cpu0 != cpu1)
        #expect(perCPU.threads.map(\.cpu) == [0, 1])
    }
}

struct RecordingInterpretationTests {
    static func events(_ configure: (inout EventAttributes) -> Void, switches: Bool = false) -> [EventDescription] {
        var main = EventAttributes(kind: .cpuClock)
        main.sampleType = [.ip, .tid, .time, .period]
        configure(&main)
        var list = [EventDescription(attributes: main, ids: [1])]
        if switches {
            var switchEvent = EventAttributes(kind: .contextSwitches)
            switchEvent.samplePeriodOrFrequency = 1  // every switch, as perch record --switches samples it
            list.append(EventDescription(attributes: switchEvent, ids: [2]))
        }
        return list
    }

    @Test func perfsDashGIsAChainWithoutRepair() {
        let reading = RecordingInterpretation(events: Self.events { $0.sampleType.insert(.callchain) })
        #expect(reading.callGraph == .framePointer && reading.userStacks == .chain)
        #expect(reading.recordedChains == "fp" && reading.switchEvent == nil)
    }

    @Test func everyModePerchRecordsIsReadBackWithItsUnwinding() {
        let expected: [(CallGraphMode, RecordingInterpretation.UserStacks)] = [
            (.none, .chain), (.framePointer, .leafRepair), (.auto, .auto), (.dwarf(stackSize: 16384), .dwarf),
        ]
        for (mode, stacks) in expected {
            let reading = RecordingInterpretation(events: Self.events { mode.apply(to: &$0) })
            #expect(reading.callGraph == mode, "\(mode)")
            #expect(reading.userStacks == stacks, "\(mode)")
            #expect(reading.stackCopySize == mode.stackSize)
        }
    }

    @Test func theSwitchEventIsTheContextSwitchesEventAfterTheFirst() {
        let reading = RecordingInterpretation(events: Self.events({ $0.flags.insert(.excludeKernel) }, switches: true))
        #expect(reading.switchEvent == 1)
        #expect(reading.excludesKernel)
        #expect(reading.mainEvent == 0)
        // `-e cpu-clock,cs`: context switches sampled by frequency are an event of their own.
        var byFrequency = Self.events({ _ in }, switches: true)
        byFrequency[1].attributes.flags.insert(.frequency)
        byFrequency[1].attributes.samplePeriodOrFrequency = 4000
        #expect(RecordingInterpretation(events: byFrequency).switchEvent == nil)
    }
}
