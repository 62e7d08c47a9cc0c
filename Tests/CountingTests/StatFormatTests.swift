import Testing
@testable import Counting

/// perf stat 6.1's lines, byte for byte, from numbers perf printed on this machine.
@Suite struct StatFormatTests {
    static func line(_ value: StatLine.Value, unit: String = "", event: String, run: UInt64 = 748_019,
                     metric: StatMetric? = nil, variance: Double? = nil, interval: UInt64? = nil,
                     aggregate: StatAggregate? = nil) -> StatLine {
        StatLine(interval: interval, aggregate: aggregate, value: value, unit: unit, event: event, variancePercent: variance,
                 runNanoseconds: run, runningPercent: 100, metric: metric)
    }

    @Test func humanLinesMatchPerf() {
        let clock = Self.line(.counted(0.76), unit: "msec", event: "task-clock", metric: StatMetric(value: 0.007, unit: "CPUs utilized"))
        #expect(StatFormat.human.format(clock)
            == "              0.76 msec task-clock                       #    0.007 CPUs utilized          \n")
        let switches = Self.line(.counted(1), event: "context-switches", metric: StatMetric(value: 1.313, unit: "K/sec"))
        #expect(StatFormat.human.format(switches)
            == "                 1      context-switches                 #    1.313 K/sec                  \n")
        #expect(StatFormat.human.format(Self.line(.notSupported, event: "cycles", run: 0))
            == "   <not supported>      cycles                                                      \n")
        let noisy = Self.line(.counted(0.81), unit: "msec", event: "task-clock", metric: StatMetric(value: 0.016, unit: "CPUs utilized"), variance: 6.26)
        #expect(StatFormat.human.format(noisy)
            == "              0.81 msec task-clock                       #    0.016 CPUs utilized            ( +-  6.26% )\n")
        let interval = Self.line(.notCounted, unit: "msec", event: "task-clock", run: 0, interval: 200_500_020)
        #expect(StatFormat.human.format(interval)
            == "     0.200500020      <not counted> msec task-clock                                                  \n")
        let perCPU = Self.line(.counted(23), event: "cs", aggregate: .cpu(0))
        #expect(StatFormat.human.format(perCPU).hasPrefix("CPU0                       23      cs "))
        let perThread = Self.line(.counted(0.06), unit: "msec", event: "task-clock", aggregate: .thread(comm: "sleep", tid: 19704))
        #expect(StatFormat.human.format(perThread).hasPrefix("           sleep-19704                  0.06 msec task-clock"))
    }

    @Test func csvColumnsMatchPerf() {
        let csv = StatFormat.csv(separator: ",")
        #expect(csv.format(Self.line(.counted(0.75), unit: "msec", event: "task-clock", metric: StatMetric(value: 0.007, unit: "CPUs utilized")))
            == "0.75,msec,task-clock,748019,100.00,0.007,CPUs utilized\n")
        #expect(csv.format(Self.line(.notSupported, event: "cycles", run: 0)) == "<not supported>,,cycles,0,100.00,,\n")
        #expect(csv.format(Self.line(.counted(74), event: "page-faults", metric: StatMetric(value: 0.90, unit: "K/sec"), variance: 0.9))
            == "74,,page-faults,0.90%,748019,100.00,0.900,K/sec\n")
        #expect(csv.format(Self.line(.notCounted, unit: "msec", event: "task-clock", run: 0, interval: 204_330_606))
            == "     0.204330606,<not counted>,msec,task-clock,0,100.00,,\n")
        #expect(csv.format(Self.line(.counted(46), event: "context-switches", aggregate: .cpu(1)))
            == "CPU1,46,,context-switches,748019,100.00,,\n")
        #expect(StatFormat.csv(separator: ";").format(Self.line(.counted(3), event: "page-faults"))
            == "3;;page-faults;748019;100.00;;\n")
    }

    @Test func jsonKeysMatchPerf() {
        let line = Self.line(.counted(0.911851), unit: "msec", event: "task-clock", run: 911_851,
                             metric: StatMetric(value: 0.014724, unit: "CPUs utilized"))
        #expect(StatFormat.json.format(line)
            == "{\"counter-value\" : \"0.911851\", \"unit\" : \"msec\", \"event\" : \"task-clock\", \"event-runtime\" : 911851, \"pcnt-running\" : 100.00, \"metric-value\" : 0.014724, \"metric-unit\" : \"CPUs utilized\"}\n")
        let interval = Self.line(.counted(1), event: "cs", variance: 0, interval: 100_143_773, aggregate: .thread(comm: "a\"b", tid: 7))
        #expect(StatFormat.json.format(interval)
            == "{\"interval\" : 0.100143773, \"thread\" : \"a\\\"b-7\", \"counter-value\" : \"1.000000\", \"unit\" : \"\", \"event\" : \"cs\", \"variance\" : 0.00, \"event-runtime\" : 748019, \"pcnt-running\" : 100.00, \"metric-value\" : 0.000000, \"metric-unit\" : \"\"}\n")
    }

    @Test func footerMatchesPerf() {
        #expect(StatFormat.footer(elapsed: RunningStatistics([51_585_740]), userSeconds: 0.001738, systemSeconds: 0)
            == "\n       0.051585740 seconds time elapsed\n\n       0.001738000 seconds user\n       0.000000000 seconds sys\n\n")
        // Two more digits than the spread's first significant one, as perf prints it.
        let runs = StatFormat.footer(elapsed: RunningStatistics([51_700_000, 51_800_000, 51_760_000]), userSeconds: nil, systemSeconds: nil)
        #expect(runs.hasPrefix("\n         0.0517533 +- 0.0000291 seconds time elapsed  ( +-  0.06% )"), "\(runs)")
    }
}
