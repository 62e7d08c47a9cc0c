import ProfileModel
import Testing

@testable import Profiling

/// The process model (threads, names and address spaces over time) and the switch pairing: the
/// two timelines every profile and `perch sched` read records through.
struct ProcessModelTests {
    @Test func aForkRunsUnderItsParentsNameUntilRenamed() {
        let model = ProcessModel()
        model.comm(pid: 10, tid: 10, name: "shell", exec: true)
        model.fork(pid: 11, parentPID: 10, tid: 11, parentTID: 10)
        #expect(model.name(ofThread: 11, pid: 11) == "shell")
        model.comm(pid: 11, tid: 11, name: "gzip", exec: true)
        #expect(model.name(ofThread: 11, pid: 11) == "gzip")
        // A thread of the renamed process starts under the new name.
        model.fork(pid: 11, parentPID: 11, tid: 12, parentTID: 11)
        #expect(model.name(ofThread: 12, pid: 11) == "gzip")
    }

    @Test func aReusedThreadIdTakesItsNewParentsName() {
        let model = ProcessModel()
        model.comm(pid: 20, tid: 20, name: "old", exec: true)
        model.comm(pid: 30, tid: 30, name: "new-parent", exec: true)
        model.fork(pid: 20, parentPID: 30, tid: 20, parentTID: 30)
        #expect(model.name(ofThread: 20, pid: 20) == "new-parent")
    }

    @Test func unknownThreadsAreNamedByTidAndTheIdleTaskIsSwapper() {
        let model = ProcessModel()
        #expect(model.name(ofThread: 77, pid: 77) == ":77")
        #expect(model.name(ofThread: 0, pid: 0) == "swapper")
    }

    @Test func aMappingOverAnotherSplitsItAndKeepsFileOffsets() {
        let model = ProcessModel()
        model.mmap(pid: 1, start: 0x1000, length: 0x4000, pageOffset: 0, path: "/lib/a.so", buildID: nil)
        // Replaces the middle page: the left part keeps its offset, the right part moves on by
        // the distance from the old start.
        model.mmap(pid: 1, start: 0x2000, length: 0x1000, pageOffset: 0x9000, path: "/lib/b.so", buildID: nil)
        let space = try! #require(model.spaceIfKnown(of: 1))
        let left = space.find(0x1800), middle = space.find(0x2800), right = space.find(0x3800)
        #expect(left.map { model.dsos[Int($0.dso)] } == "/lib/a.so")
        #expect(left?.pageOffset == 0 && left?.end == 0x2000)
        #expect(middle.map { model.dsos[Int($0.dso)] } == "/lib/b.so")
        #expect(middle?.pageOffset == 0x9000)
        #expect(right.map { model.dsos[Int($0.dso)] } == "/lib/a.so")
        #expect(right?.start == 0x3000 && right?.pageOffset == 0x2000)
        #expect(space.find(0x5000) == nil && space.find(0xfff) == nil)
    }

    @Test func execStartsAnEmptyAddressSpaceAndForkCopiesIt() {
        let model = ProcessModel()
        model.mmap(pid: 5, start: 0x1000, length: 0x1000, pageOffset: 0, path: "/bin/sh", buildID: [1, 2])
        model.fork(pid: 6, parentPID: 5, tid: 6, parentTID: 5)
        #expect(model.spaceIfKnown(of: 6)?.find(0x1000) != nil)
        model.comm(pid: 6, tid: 6, name: "ls", exec: true)
        #expect(model.spaceIfKnown(of: 6)?.find(0x1000) == nil)
        #expect(model.spaceIfKnown(of: 5)?.find(0x1000) != nil, "the parent keeps its own")
        #expect(model.dsoBuildIDs[model.dso(named: "/bin/sh")] == [1, 2])
    }
}

struct ThreadSwitchesTests {
    @Test func pairsEachSwitchWithTheOneBefore() {
        var switches = ThreadSwitches()
        #expect(switches.switchedIn(tid: 1, time: 100) == nil, "no switch-out seen yet")
        #expect(switches.switchedOut(pid: 9, tid: 1, time: 150, preempted: false) == 50)
        let off = switches.switchedIn(tid: 1, time: 400)
        #expect(off?.pid == 9 && off?.nanoseconds == 250 && off?.afterPreemption == false)
        #expect(switches.switchedOut(pid: 9, tid: 1, time: 410, preempted: true) == 10)
        #expect(switches.switchedIn(tid: 1, time: 420)?.afterPreemption == true)
        #expect(switches.switchedIn(tid: 1, time: 430) == nil, "a second switch-in pairs with nothing")
    }

    @Test func threadsArePairedApart() {
        var switches = ThreadSwitches()
        _ = switches.switchedOut(pid: 1, tid: 1, time: 10, preempted: false)
        _ = switches.switchedOut(pid: 2, tid: 2, time: 20, preempted: false)
        #expect(switches.switchedIn(tid: 2, time: 25)?.nanoseconds == 5)
        #expect(switches.switchedIn(tid: 1, time: 40)?.nanoseconds == 30)
    }
}

struct OffCPUAccountingTests {
    @Test func intervalsCarryTheSwitchOutStackAndTheirTime() {
        var accounting = OffCPUAccounting()
        accounting.sampledSwitchOut(tid: 3, stack: 42)
        accounting.switchedOut(pid: 8, tid: 3, time: 1_000)
        let first = accounting.switchedIn(tid: 3, time: 31_000)
        #expect(first?.stack == 42 && first?.nanoseconds == 30_000 && first?.pid == 8 && first?.tid == 3)
        // The next interval had no sampled stack: the old one is not reused.
        accounting.switchedOut(pid: 8, tid: 3, time: 40_000)
        let second = accounting.switchedIn(tid: 3, time: 50_000)
        #expect(second?.stack == nil && second?.nanoseconds == 10_000)
        #expect(accounting.intervals == 2 && accounting.withoutStack == 1)
        #expect(accounting.switchedIn(tid: 3, time: 60_000) == nil)
        #expect(accounting.intervals == 2)
    }
}

extension OffCPUAccounting.Interval: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        a.pid == b.pid && a.tid == b.tid && a.nanoseconds == b.nanoseconds && a.stack == b.stack
    }
}
