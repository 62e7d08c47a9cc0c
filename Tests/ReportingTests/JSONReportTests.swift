import Foundation
import ProfileModel
import Testing
import TestSupport
import Reporting

@Suite struct JSONReportTests {
    @Test func parsesBackWithTotals() throws {
        var b = ProfileBuilder()
        let t = b.thread(pid: 7, tid: 8, comm: "q\"uote")
        b.frame("do_syscall_64", dso: "[kernel.kallsyms]", kind: .kernel)
        b.stack(t, ["main", "work_a"], count: 2, weight: 500)
        b.stack(t, ["main", "work_a", "do_syscall_64"], count: 1, weight: 200)
        b.stack(t, ["main", "work_b"], count: 3, weight: 300)
        b.profile.summary.notes = [ReportNote(.other, "line\none"), ReportNote(.other, "tab\there")]
        b.profile.summary.lostRecords = 4
        b.profile.summary.throttleEvents = 2

        let text = TextReport.json(b.profile, options: ReportOptions())
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let summary = try #require(root["summary"] as? [String: Any])
        #expect(summary["event"] as? String == "cpu-clock")
        #expect(summary["frequency"] as? Int == 4000)
        #expect(summary["period"] is NSNull)
        #expect(summary["samples"] as? Int == 6)
        #expect(summary["totalWeight"] as? Int == 1000)
        #expect(summary["lostRecords"] as? Int == 4)
        #expect(summary["throttleEvents"] as? Int == 2)
        #expect(summary["callGraph"] as? String == "fp")
        #expect(summary["notes"] as? [String] == ["line\none", "tab\there"])

        let entries = try #require(root["entries"] as? [[String: Any]])
        #expect(entries.count == 3)
        #expect(entries.map { $0["symbol"] as? String } == ["work_a", "work_b", "do_syscall_64"])
        #expect(entries.map { $0["kind"] as? String } == ["user", "user", "kernel"])
        #expect(entries[0]["comm"] as? String == "q\"uote")
        #expect(entries[0]["pid"] is NSNull)
        let overhead = entries.compactMap { $0["overhead"] as? Double }
        #expect(abs(overhead.reduce(0, +) - 100) < 1e-9)
        #expect(overhead.first == 50)
        #expect(entries.reduce(0) { $0 + (($1["selfWeight"] as? Int) ?? 0) } == 1000)
        // Children are always computed: work_a includes the syscall below it.
        #expect(entries[0]["children"] as? Double == 70)
        #expect(entries[0]["childrenWeight"] as? Int == 700)
    }

    @Test func childrenModeOverheadIsChildren() throws {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["main", "f"], count: 1, weight: 1)
        let text = TextReport.json(b.profile, options: ReportOptions(sortKeys: [.pid, .sym], children: true, useWeight: false))
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(root["metric"] as? String == "samples")
        let entries = try #require(root["entries"] as? [[String: Any]])
        // Both are in every stack; the tie is broken by self, so the leaf comes first.
        #expect(entries.map { $0["symbol"] as? String } == ["f", "main"])
        let main = try #require(entries.last)
        #expect(main["overhead"] as? Double == 100)
        #expect(main["children"] as? Double == 100)
        #expect(main["self"] as? Double == 0)
        #expect(main["pid"] as? Int == 1)
    }
}
