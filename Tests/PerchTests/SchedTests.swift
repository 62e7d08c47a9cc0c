import Foundation
import Testing

/// Context-switch tracing on the off-CPU fixture: per round the main thread sleeps 30 ms,
/// 10 ms, and waits 20 ms on a pipe — 60 ms blocked per round.
@Suite(.serialized) struct SchedTests {
    @Test func schedReportShowsTheMainThreadsBlockedTimeWithinFivePercent() throws {
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/sched.data"
        let recorded = try Support.perch(["sched", "record", "-q", "-o", data, "--", workload, "15"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["sched", "report", "-i", data])
        #expect(report.status == 0, "\(report.stderr)")
        // Both threads are named off_cpu; the main thread is the one switching three times a round.
        let rows = report.stdout.split(separator: "\n").filter { $0.hasPrefix("off_cpu ") }.map { $0.split(separator: " ") }
        let columns = try #require(rows.max { Int($0[5]) ?? 0 < Int($1[5]) ?? 0 }, "\(report.stdout)")
        let offCPU = try #require(Double(columns[3]))
        #expect(abs(offCPU - 900) <= 45, "main thread off-CPU \(offCPU) ms, blocked 900 ms")
        let switches = try #require(Int(columns[5]))
        #expect(switches >= 45, "at least three blocking switches per round")

        let timehist = try Support.perch(["sched", "report", "-i", data, "--timehist"])
        #expect(timehist.stdout.split(separator: "\n").filter { $0.contains("off_cpu[") }.count >= 45)
    }

    @Test func aRecordingWithoutSwitchesSaysHowToGetThem() throws {
        let workload = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/no-switches.data"
        try Support.perch(["record", "-q", "-o", data, "--", workload, "5"])
        let report = try Support.perch(["sched", "report", "-i", data])
        #expect(report.status == 1 && report.stderr.contains("perch sched record"))
    }
}
