import Foundation
import Testing

/// What a user of perf types first: a perf subcommand Perch does not have gets one line saying so
/// and what to use instead (exit 64), and `perch report` in a directory with only perf.data
/// reads it, saying so.
@Suite(.serialized) struct PerfHabitsTests {
    @Test(arguments: ["annotate", "trace", "timechart"])
    func aMissingSubcommandSaysWhatToUseInstead(_ name: String) throws {
        let result = try Support.perch([name, "-a"])
        #expect(result.status == 64)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("perch: error: 'perch \(name)' does not exist (yet): "), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func reportFallsBackToPerfDataSayingSo() throws {
        let binary = try Support.fixture("known_weights")
        let directory = Support.workDirectory + "/only-perf-data"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let recorded = try Support.perch(["record", "-q", "-o", directory + "/perf.data", "--", binary, "20"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.run(Support.perch, ["report"], directory: directory)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stderr.contains("no perch.data here; reading perf.data"))
        #expect(report.stdout.contains("known_weights"), "\(report.stdout.prefix(800))")
        // With perch.data present, that is what is read, silently.
        try FileManager.default.copyItem(atPath: directory + "/perf.data", toPath: directory + "/perch.data")
        let plain = try Support.run(Support.perch, ["report"], directory: directory)
        #expect(plain.status == 0 && !plain.stderr.contains("reading perf.data"))
    }

    /// perf's spellings, where the meaning is the same.
    @Test func perfSpellingsMeanWhatTheySayInPerf() throws {
        let version = try Support.perch(["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("perch "))

        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/spellings.data"
        let recorded = try Support.perch(["record", "-q", "-F", "max", "--switch-events", "--all-user", "-o", data, "--", binary, "5"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let plain = try Support.perch(["report", "-i", data, "--sort", "sym"]).stdout
        #expect(plain.contains("work_a") || plain.contains("unit"))
        for spelling in [["-s", "sym"], ["-s", "symbol"], ["--sort", "overhead,sym"], ["--sort", "sym", "--no-children"]] {
            let report = try Support.perch(["report", "-i", data] + spelling)
            #expect(report.status == 0 && report.stdout == plain, "\(spelling): \(report.stderr)")
        }
        #expect(try Support.perch(["report", "-i", data, "--sort", "sym", "--children"]).stdout.contains("Children"))
        // -F max records at the kernel's maximum rate: the header says the frequency it used.
        let rate = try String(contentsOfFile: "/proc/sys/kernel/perf_event_max_sample_rate", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(plain.contains("(\(rate) Hz)"), "\(plain.prefix(300))")
    }
}
