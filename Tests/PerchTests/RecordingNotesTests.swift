import Foundation
import Testing

/// What a recording left out is stored in the file (a private feature section perf skips), so a
/// report made later says it too, once, and perf still reads the file.
@Suite(.serialized) struct RecordingNotesTests {
    @Test func aFallbackTakenWhileRecordingIsInEveryLaterReport() throws {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/notes.data"
        // No hardware PMU here: cycles falls back to cpu-clock. Where a PMU exists, ask for an
        // event that cannot be opened at all as this machine is set up: the note's kind differs,
        // the mechanism is the same; so only run where the fallback is what happens.
        let recorded = try Support.perch(["record", "-q", "-e", "cycles", "-o", data, "--", binary, "50"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        try #require(recorded.stderr.contains("note: hardware event 'cycles'"), "this machine has a PMU: \(recorded.stderr)")
        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0)
        let notes = report.stdout.split(separator: "\n").filter { $0.hasPrefix("# Note: hardware event 'cycles'") }
        #expect(notes.count == 1, "\(report.stdout.prefix(1500))")
        let json = try JSONReport(try Support.perch(["report", "-i", data, "--json"]).stdout)
        #expect((json.summary["notes"] as? [String])?.contains { $0.hasPrefix("hardware event 'cycles'") } == true)

        if Support.commandExists("perf") {
            let perf = try Support.run("perf", ["report", "-i", data, "--stdio", "--sort", "sym"])
            #expect(perf.status == 0, "\(perf.stderr)")
            #expect(perf.stdout.contains("work_a"))
        }
    }
}
