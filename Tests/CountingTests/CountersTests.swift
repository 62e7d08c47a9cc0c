import PerchCounters
import PerfEvents
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The library's `Counters.measure` on the real kernel.
@Suite struct CountersTests {
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    @Test func sleepsSwitchAndSpinsCountTaskClock() throws {
        let counts = try Counters.measure([.taskClock, .contextSwitches, .pageFaults, .instructions]) {
            for _ in 0..<10 { usleep(2000) }
            let end = Self.threadCPUSeconds() + 0.030
            var sink = 0
            while Self.threadCPUSeconds() < end { for i in 0..<1000 { sink &+= i } }
            #expect(sink != 1)
        }
        #expect(counts.counts.map(\.event) == [.taskClock, .contextSwitches, .pageFaults, .instructions])
        let clock = try #require(counts[.taskClock]?.value)
        #expect(clock >= 30_000_000 && clock < 45_000_000, "task-clock \(clock) ns for a 30 ms spin")
        let probe = PrivilegeProbe.run()
        if probe.mayProfileKernel {
            let switches = try #require(counts[.contextSwitches]?.value)
            #expect(switches >= 10, "\(switches) context switches for 10 sleeps")
        } else {
            guard case .notPermitted(let reason) = counts[.contextSwitches]?.availability else {
                Issue.record("context switches should be left out here: \(String(describing: counts[.contextSwitches]))"); return
            }
            #expect(reason.contains("kernel"))
        }
        if !probe.hardwarePMU {
            guard case .unsupported = counts[.instructions]?.availability else {
                Issue.record("instructions without a PMU: \(String(describing: counts[.instructions]))"); return
            }
            #expect(counts[.instructions]?.value == nil)
        }
    }

    @Test func bodyErrorsPassThrough() {
        struct Boom: Error {}
        #expect(throws: Boom.self) { try Counters.measure([.taskClock]) { throw Boom() } }
    }

    @Test func newThreadsCountWhenAsked() throws {
        func spinInThread() {
            var thread = pthread_t()
            pthread_create(&thread, nil, { _ in
                let end = CountersTests.threadCPUSeconds() + 0.020
                var sink = 0
                while CountersTests.threadCPUSeconds() < end { sink &+= 1 }
                return nil
            }, nil)
            pthread_join(thread, nil)
        }
        let alone = try Counters.measure([.taskClock]) { spinInThread() }
        let inherited = try Counters.measure([.taskClock], includingNewThreads: true) { spinInThread() }
        let without = try #require(alone[.taskClock]?.value), with = try #require(inherited[.taskClock]?.value)
        #expect(without < 10_000_000, "\(without)")
        #expect(with >= 20_000_000, "\(with)")
    }
}
