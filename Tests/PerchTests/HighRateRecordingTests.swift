import Foundation
import Testing
import TestSupport

/// DWARF recording at 50 kHz: every sample reserves the whole 8 KiB stack copy in the ring, so the
/// rings fill in milliseconds; the ring reader thread must keep up and nothing may be lost. The
/// sample count is checked against rate × the command's CPU time, so the test cannot pass by
/// recording nothing.
@Suite(.serialized) struct HighRateRecordingTests {
    static func output(_ name: String) -> String { Support.workDirectory + "/highrate-" + name }

    @Test func dwarfAt50kHzLosesNoRecordAndKeepsTheRate() throws {
        let binary = try Support.fixture("known_weights")
        let data = Self.output("dwarf50k.data")
        let times = Self.output("dwarf50k.times")
        defer {
            unlink(data)
            unlink(data + ".old")
            unlink(times)
        }
        // /usr/bin/time reports the workload's CPU time: cpu-clock samples it at 50 kHz.
        let result = try Support.perch(["record", "-q", "-e", "cpu-clock", "-F", "50000", "--call-graph", "dwarf",
                                        "-o", data, "--", "/usr/bin/time", "-f", "%U %S", "-o", times, binary, "60"])
        #expect(result.status == 0, "\(result.stderr)")
        let wrote = try #require(result.stderr.split(separator: "\n").first { $0.hasPrefix("perch: wrote ") },
                                 "no summary line: \(result.stderr)")
        let summary = wrote.split(separator: "(").last.map(String.init) ?? ""
        let numbers = summary.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        // "(N samples, S MiB, L lost, R rings of P pages, E events)"
        let samples = try #require(numbers.first, "\(wrote)")
        let lost = try #require(summary.components(separatedBy: " lost").first?.split(separator: " ").last.flatMap { Int($0) },
                                "\(wrote)")
        #expect(lost == 0, "records were lost: \(wrote)")

        let cpu = try String(contentsOfFile: times, encoding: .utf8).split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        let seconds = cpu.reduce(0, +)
        let expected = 50_000 * seconds
        #expect(seconds > 0.1, "the workload ran \(seconds) s of CPU")
        // The kernel's clock ticks and the frequency's first periods blur the count a little.
        #expect(Double(samples) > 0.8 * expected && Double(samples) < 1.1 * expected,
                "\(samples) samples for \(seconds) s of CPU at 50 kHz (expected about \(Int(expected)))")

        // perf reads the file, cut stack copies included, with the same count and nothing lost.
        if Support.commandExists("perf") {
            let stats = try Support.run("perf", ["report", "-i", data, "--stats"])
            let sampleLine = stats.stdout.split(separator: "\n").first { $0.contains("SAMPLE events:") }
            #expect(sampleLine?.contains("\(samples)") == true, "perf report --stats: \(sampleLine ?? "none")")
            #expect(!stats.stdout.contains("LOST events:"), "\(stats.stdout)")
        }
    }
}
