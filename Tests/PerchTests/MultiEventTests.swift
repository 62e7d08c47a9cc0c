import Foundation
import Testing

/// A perf.data with several events (`perf record -e cpu-clock,page-faults`) is a section per event
/// in the text report, each with its own samples as perf counts them, and `--event NAME` picks
/// one for every output. Before, page-fault samples were added into the cpu-clock profile.
@Suite(.serialized) struct MultiEventTests {
    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func eachEventIsItsOwnProfile() throws {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/two-events.data"
        // perf 6.1 here has been seen to abort now and then (SIGABRT) while recording: try again.
        var recorded = try Support.run("perf", ["record", "-q", "-e", "cpu-clock,page-faults", "-o", data, "--", binary, "100"])
        for _ in 0..<2 where recorded.status != 0 {
            recorded = try Support.run("perf", ["record", "-q", "-e", "cpu-clock,page-faults", "-o", data, "--", binary, "100"])
        }
        try #require(recorded.status == 0, "perf record failed: \(recorded.status) \(recorded.stderr)")
        // perf's own count of each event's samples.
        let script = try Support.run("perf", ["script", "-i", data, "-F", "event"])
        var perfCounts: [String: Int] = [:]
        for line in script.stdout.split(separator: "\n") {
            perfCounts[line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ":", with: ""), default: 0] += 1
        }
        let cpu = try #require(perfCounts["cpu-clock"]), faults = try #require(perfCounts["page-faults"])
        #expect(faults > 0)

        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0)
        let sections = report.stdout.components(separatedBy: "# Perch report\n").dropFirst()
        #expect(sections.count == 2, "\(report.stdout.prefix(2000))")
        func samples(_ section: String) -> Int? {
            section.split(separator: "\n").first { $0.hasPrefix("# Samples: ") }
                .flatMap { Int($0.dropFirst("# Samples: ".count).split(separator: " ")[0]) }
        }
        let first = try #require(sections.first), second = try #require(sections.dropFirst().first)
        #expect(first.contains("# Event: cpu-clock") && samples(first) == cpu, "cpu-clock: perf counts \(cpu)")
        #expect(second.contains("# Event: page-faults") && samples(second) == faults, "page-faults: perf counts \(faults)")

        let json = try JSONReport(try Support.perch(["report", "-i", data, "--event", "page-faults", "--json"]).stdout)
        #expect(json.summary["event"] as? String == "page-faults")
        #expect(json.summary["totalSamples"] as? Int == faults)
        let folded = Support.workDirectory + "/two-events.folded"
        #expect(try Support.perch(["report", "-i", data, "--event", "page-faults", "--folded", folded]).status == 0)
        let total = try String(contentsOfFile: folded, encoding: .utf8).split(separator: "\n")
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        #expect(total == faults, "folded counts the page-fault samples")

        let missing = try Support.perch(["report", "-i", data, "--event", "cycles"])
        #expect(missing.status != 0 && missing.stderr.contains("has no event 'cycles'; it has: cpu-clock, page-faults"))
    }
}
