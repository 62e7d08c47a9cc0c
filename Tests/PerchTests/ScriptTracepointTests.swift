import Foundation
import Testing

/// `perch script` prints a tracepoint sample's fields after its event, as perf script does, from
/// the formats the recording carries; the numbers are the kernel's, so they must equal perf's.
@Suite(.serialized) struct ScriptTracepointTests {
    @Test(.enabled(if: Support.isRoot && Support.commandExists("perf"), "needs root (tracefs) and perf"))
    func tracepointFieldsMatchPerfScript() throws {
        let data = Support.workDirectory + "/script-tracepoint.data"
        let recorded = try Support.perch(["record", "-q", "--no-report", "-e", "sched:sched_switch", "-o", data, "--", "sh", "-c", "sleep 0.01; sleep 0.01"])
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let ours = try Support.perch(["script", "-i", data, "-F", "comm,tid,event,trace"])
        try #require(ours.status == 0, "\(ours.stderr)")
        let theirs = try Support.run("perf", ["script", "-i", data, "-F", "comm,tid,event,trace"])
        try #require(theirs.status == 0, "\(theirs.stderr)")
        // The numeric fields perf and Perch both print plainly (perf decodes prev_state into letters).
        func pids(_ text: String) -> [String] {
            text.split(separator: "\n").filter { $0.contains("sched:sched_switch") }.map { line in
                line.split(separator: " ").filter { $0.hasPrefix("prev_pid=") || $0.hasPrefix("next_pid=") || $0.hasPrefix("next_prio=") }
                    .joined(separator: " ")
            }
        }
        let ourFields = pids(ours.stdout), perfFields = pids(theirs.stdout)
        #expect(ourFields.count >= 2, "\(ours.stdout.prefix(500))")
        #expect(ourFields == perfFields, "perch:\n\(ours.stdout.prefix(800))\nperf:\n\(theirs.stdout.prefix(800))")
    }
}
