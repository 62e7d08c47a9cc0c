import Foundation
import PerfABI
import PerfRecords
import Profiling
import Testing
import TestSupport

/// `TracepointFormats.describe` on a real recording: for tracepoints perf prints with their
/// format's own `print fmt` (no custom printer), the text is perf script's, sample for sample.
@Suite(.serialized, .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/perf"), "needs root and perf"))
struct TracepointFormatsTests {
    @Test func describeMatchesPerfScriptOnForkAndExec() throws {
        let data = TestPaths.scratchDirectory + "/tracepoint-formats.data"
        let events = "sched:sched_process_fork,sched:sched_process_exec"
        let recorded = try ProcessRunner.run("perf", ["record", "-q", "-e", events, "-o", data, "--",
                                                      "sh", "-c", "/bin/true; /bin/echo x > /dev/null; /bin/true"])
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let script = try ProcessRunner.run("perf", ["script", "-i", data, "-F", "trace"])
        let expected = script.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(expected.count >= 5, "three forks or execs at least: \(script.stdout)")

        let file = try PerfDataFile(path: data)
        let formats = TracepointFormats(file: file)
        #expect(formats.byEvent.count == 2 && formats.note == nil, "both formats from the file's TRACING_DATA")
        let decoder = RecordDecoder(events: file.events)
        var described: [String] = []
        try TimeOrderedRecords(file: file).forEach { record in
            guard record.type == RecordType.sample.rawValue, let sample = try? decoder.decodeSample(record.bytes),
                  let text = formats.describe(event: record.eventIndex, raw: sample.raw) else { return }
            described.append(text)
        }
        #expect(described == expected)
    }
}
