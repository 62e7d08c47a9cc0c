import Foundation
import Testing

/// `perch collapse` against stackcollapse-perf.pl's output: hand-made `perf script` edge cases with
/// expected folded files in Data/ (worked out from the script's rules), and a real capture of the
/// known-weights fixture by perf.
@Suite(.serialized) struct CollapseTests {
    static let data = Support.packageRoot + "/Tests/PerchTests/Data/"

    @Test(arguments: [
        ([String](), "edge-cases.folded"),
        (["--tid", "--all", "--addrs"], "edge-cases.tid-all-addrs.folded"),
        (["--pid", "--kernel"], "edge-cases.pid-kernel.folded"),
        (["--tid", "--event-filter", "instructions"], "edge-cases.instructions.folded"),
    ])
    func edgeCasesMatchTheScriptsRules(options: [String], expectedFile: String) throws {
        let expected = try String(contentsOfFile: Self.data + expectedFile, encoding: .utf8)
        let result = try Support.perch(["collapse"] + options + [Self.data + "edge-cases.perf-script"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected)
        #expect(result.stderr.contains("unrecognized line: garbage line here"))
    }

    @Test func readsStandardInputAndWritesAFile() throws {
        let out = Support.workDirectory + "/edge.folded"
        let result = try Support.run("sh", ["-c", "\(Support.perch) collapse -o \(out) < \(Self.data)edge-cases.perf-script"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == String(contentsOfFile: Self.data + "edge-cases.folded", encoding: .utf8))
        #expect(result.stderr.contains("filtering for events of type: cpu-clock:ppp"))
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func realPerfCaptureOfKnownWeights() throws {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/collapse-kw.data"
        let recorded = try Support.run("perf", ["record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-o", data, "--", binary, "150"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let script = try Support.run("perf", ["script", "-i", data])
        #expect(script.status == 0)
        let scriptFile = Support.workDirectory + "/collapse-kw.perf-script"
        try script.stdout.write(toFile: scriptFile, atomically: true, encoding: .utf8)

        let collapsed = try Support.perch(["collapse", scriptFile])
        #expect(collapsed.status == 0, "\(collapsed.stderr)")
        #expect(collapsed.stderr.isEmpty, "perf script's output is fully recognized: \(collapsed.stderr.prefix(500))")
        let lines = collapsed.stdout.split(separator: "\n").map(String.init)
        #expect(lines == lines.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "sorted bytewise")
        #expect(lines.allSatisfy { !$0.contains("+0x") }, "offsets stripped")
        // The rules give `comm;...;main;work_X;unit PERIODS`; counts are sums of the periods.
        let name = URL(fileURLWithPath: binary).lastPathComponent
        var periods: [String: UInt64] = [:]
        for line in lines {
            let space = line.lastIndex(of: " ")!
            let stack = String(line[..<space]), count = UInt64(line[line.index(after: space)...])!
            #expect(stack.hasPrefix(name + ";") || !stack.contains("work_"), "\(line)")
            for work in ["work_a", "work_b", "work_c"] where stack.hasSuffix(";main;\(work);unit") {
                periods[work, default: 0] += count
            }
        }
        let total = Double(periods.values.reduce(0, +))
        for (work, share) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let got = Double(periods[work] ?? 0) * 100 / total
            #expect(abs(got - share) <= 3, "\(work): \(got)%")
        }

        // The same stacks, counted in samples, come out of `perch report --folded` for the same file.
        let foldedFile = Support.workDirectory + "/collapse-kw.folded"
        let report = try Support.perch(["report", "-i", data, "--folded", foldedFile])
        #expect(report.status == 0, "\(report.stderr)")
        let folded = try String(contentsOfFile: foldedFile, encoding: .utf8)
        func counts(_ text: String, divisor: UInt64) -> [String: UInt64] {
            var out: [String: UInt64] = [:]
            for line in text.split(separator: "\n") where line.contains(";main;work_") {
                let space = line.lastIndex(of: " ")!
                out[String(line[..<space]), default: 0] += UInt64(line[line.index(after: space)...])! / divisor
            }
            return out
        }
        let period = UInt64(1_000_000_000 / 4000)
        let fromScript = counts(collapsed.stdout, divisor: period), fromReport = counts(folded, divisor: 1)
        #expect(!fromScript.isEmpty)
        #expect(fromScript == fromReport, "collapse (in periods of \(period)) vs report --folded")

        // Options keep working on a real capture.
        let tid = try Support.perch(["collapse", "--tid", "--all", scriptFile])
        #expect(tid.stdout.split(separator: "\n").contains { $0.hasPrefix("\(name)-") && $0.contains("/") && $0.contains(";work_a;unit ") })
    }
}
