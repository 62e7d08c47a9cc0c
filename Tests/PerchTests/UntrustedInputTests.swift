import Foundation
import PerfABI
import Testing
import TestSupport

/// Inputs perch cannot trust: crafted folded counts, endless streams, corrupted records. Each
/// must end in a report or a one-line error and a status below 128, never a trap or a hang
/// (every run is under `timeout`, so a regression fails instead of hanging CI).
@Suite struct UntrustedInputTests {
    /// Runs `perch ARGUMENTS` through `sh -c` under `timeout 60`, with `redirect` appended.
    static func perch(_ arguments: String, redirect: String = "") throws -> Support.Outcome {
        try Support.run("sh", ["-c", "timeout 60 \(Support.perch) \(arguments) \(redirect)"])
    }

    static func writeBigFolded() throws -> String {
        let path = Support.workDirectory + "/sum-past-2-64.folded"
        try "main;a 18446744073709551615\nmain;b 18446744073709551615\nmain;a 5\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func foldedCountsSummingPast2To64SaturateAndSaySo() throws {
        let folded = try Self.writeBigFolded()
        for command in ["flamegraph \(folded)", "diff \(folded) \(folded)"] {
            let result = try Self.perch(command)
            #expect(result.reason == .exit && result.status == 0, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("saturated at 18446744073709551615"), "\(command)")
            #expect(result.stdout.contains("18,446,744,073,709,551,615 samples"), "\(command): the totals are drawn")
            #expect(result.stdout.contains(">main<") || result.stdout.contains("main ("), "\(command): not an empty graph")
        }
    }

    @Test(arguments: ["collapse /dev/zero", "flamegraph /dev/zero", "diff /dev/zero /dev/null", "diff /dev/null /dev/zero",
                      "collapse < /dev/zero", "flamegraph - < /dev/zero", "symbolize -e /bin/true < /dev/zero"])
    func endlessInputsEndInOneLineError(command: String) throws {
        let result = try Self.perch(command)
        #expect(result.reason == .exit && result.status != 0 && result.status < 124, "\(command): status \(result.status)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("perch: error:"), "\(command): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func symbolizeRefusesALineLongerThanAnyAddress() throws {
        let result = try Self.perch("symbolize -e /bin/true", redirect: "< /dev/zero")
        #expect(result.stderr.contains("not text"))
        let long = try Support.run("sh", ["-c", "head -c 100000 /dev/zero | tr '\\0' 'a' | timeout 60 \(Support.perch) symbolize -e /bin/true"])
        #expect(long.status == 1 && long.stderr.contains("line 1 is longer than 4096 bytes"), "\(long.stderr)")
    }

    /// A recording with one sample whose call-chain count is 2^61: skipped, counted, reported.
    @Test func aMalformedRecordIsSkippedAndTheReportSaysSo() throws {
        let path = Support.workDirectory + "/malformed-chain.data"
        var bad = sampleRecord(ip: 0x1010, pid: 5, tid: 5, time: 2, callchain: [0x1010])
        withUnsafeBytes(of: (UInt64(1) << 61).littleEndian) { bad.replaceSubrange(56..<64, with: $0) }
        try SyntheticPerfData.write([
            .record(sampleRecord(ip: 0x1010, pid: 5, tid: 5, time: 1, callchain: [0x1010])), .record(bad),
            .record(sampleRecord(ip: 0x1010, pid: 5, tid: 5, time: 3, callchain: [0x1010])), .finishedRound,
        ], to: path)
        let text = try Self.perch("report -i \(path)")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("# Malformed records skipped: 1\n"))
        #expect(text.stdout.contains("# Samples: 2 "))
        let json = try Self.perch("report --json -i \(path)")
        #expect(json.status == 0)
        #expect(try JSONReport(json.stdout).summary["malformedRecords"] as? Int == 1)
    }
}
