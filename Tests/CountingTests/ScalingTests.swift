import Testing
@testable import Counting

/// The arithmetic behind perf stat's numbers: scaling by enabled/running time, sums and interval
/// deltas of untrusted kernel numbers, and the spread of repeated runs.
@Suite struct ScalingTests {
    @Test func scaledByEnabledOverRunning() {
        let reading = CounterReading(value: 1000, timeEnabled: 4_000, timeRunning: 1_000)
        #expect(reading.scaled == 4000)
        #expect(reading.runningPercent == 25)
        #expect(reading.isScaled)
    }

    @Test func fullRunningIsNotScaled() {
        let reading = CounterReading(value: 77, timeEnabled: 5_000, timeRunning: 5_000)
        #expect(reading.scaled == 77)
        #expect(reading.runningPercent == 100)
        #expect(!reading.isScaled)
    }

    @Test func neverRunningIsNotCounted() {
        let reading = CounterReading(value: 0, timeEnabled: 5_000, timeRunning: 0)
        #expect(reading.scaled == nil)
        #expect(!reading.counted)
        // perf prints 100.00 for an event never enabled.
        #expect(CounterReading().runningPercent == 100)
    }

    @Test func sumsAndDeltasSaturate() {
        let big = CounterReading(value: .max - 1, timeEnabled: 10, timeRunning: 10)
        #expect((big + big).value == .max)
        let earlier = CounterReading(value: 50, timeEnabled: 100, timeRunning: 80)
        let later = CounterReading(value: 70, timeEnabled: 300, timeRunning: 180)
        #expect(later.since(earlier) == CounterReading(value: 20, timeEnabled: 200, timeRunning: 100))
        // A counter that went backwards (a reset) gives zero, not a trap or a huge number.
        #expect(earlier.since(later) == CounterReading())
    }

    @Test func spreadIsTheRelativeStandardDeviationOfTheMean() {
        // 10, 12, 14: mean 12, sample stddev 2, of the mean 2/√3 = 1.1547, relative 9.62%.
        let statistics = RunningStatistics([10, 12, 14])
        #expect(statistics.count == 3)
        #expect(abs(statistics.mean - 12) < 1e-12)
        #expect(abs(statistics.standardDeviation - 2) < 1e-12)
        #expect(abs(statistics.relativeSpreadPercent - 9.6225) < 1e-3)
        #expect(RunningStatistics([5]).relativeSpreadPercent == 0)
        #expect(RunningStatistics([0, 0]).relativeSpreadPercent == 0)
    }

    @Test func ratesUsePerfsPrefixes() {
        #expect(StatMetric.rate(count: 1, clockNanoseconds: 748_019) == StatMetric(value: 1_000_000_000 / 748_019 / 1000, unit: "K/sec"))
        #expect(StatMetric.rate(count: 0, clockNanoseconds: 1_000_000).unit == "/sec")
        #expect(StatMetric.rate(count: 5_000_000, clockNanoseconds: 1_000_000_000).unit == "M/sec")
        #expect(StatMetric.rate(count: 5, clockNanoseconds: 0).value == 0)
    }

    @Test func accumulatorScalesAndReportsRunningShare() throws {
        let plan = try CountingPlanner.plan([[.init(source: .known(.taskClock))], [.init(source: .known(.pageFaults))]],
                                            target: .launch(["true"]), probe: PlannerTests.probe(paranoid: -1))
        var accumulator = StatAccumulator(events: plan.events, availability: plan.events.map(\.availability))
        accumulator.add([(nil, [CounterReading(value: 2_000_000, timeEnabled: 4_000_000, timeRunning: 2_000_000),
                                CounterReading(value: 30, timeEnabled: 4_000_000, timeRunning: 1_000_000)])],
                        availability: plan.events.map(\.availability), elapsedNanoseconds: 8_000_000)
        let lines = accumulator.lines(showVariance: false)
        #expect(lines.count == 2)
        #expect(lines[0].value == .counted(4))             // 2 ms scaled ×2, in msec
        #expect(lines[0].runningPercent == 50)
        #expect(lines[0].metric == StatMetric(value: 0.5, unit: "CPUs utilized"))
        #expect(lines[1].value == .counted(120))           // 30 scaled ×4
        #expect(lines[1].runningPercent == 25)
        #expect(lines[1].metric == StatMetric(value: 30, unit: "K/sec"))  // 120 per 4 ms
        let human = StatFormat.human.format(lines[1])
        #expect(human.hasSuffix("  (25.00%)\n"), "\(human)")
        #expect(StatFormat.csv(separator: ",").format(lines[1]) == "120,,page-faults,1000000,25.00,30.000,K/sec\n")
    }
}
