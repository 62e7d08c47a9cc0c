import Foundation
import Testing
import TestSupport

/// Inlined functions are frames of their own by default (`[i]`, with their self time); with
/// `--no-inline` their time goes to the function they were inlined into, as perf's flat profile
/// shows it, in the text report and the folded output alike; the header says which mode is on.
@Suite(.serialized) struct InlineModeTests {
    static let source = """
        #include <stdlib.h>
        static volatile unsigned long sink;
        static inline __attribute__((always_inline)) unsigned long mix(unsigned long x) {
            for (int i = 0; i < 64; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
            return x;
        }
        __attribute__((noinline)) void outer(long rounds) {
            unsigned long x = 1;
            for (long r = 0; r < rounds; r++) x = mix(x);
            sink = x;
        }
        int main(int argc, char **argv) { outer(argc > 1 ? atol(argv[1]) : 4000000); return 0; }
        """

    @Test func noInlineGivesTheInlinedTimeToItsCaller() throws {
        let binary = try CCompiler.compile(source: Self.source, name: "inline_mix", flags: ["-O2", "-g", "-fno-omit-frame-pointer"])
        let data = Support.workDirectory + "/inline.data"
        let recorded = try Support.perch(["record", "-q", "-o", data, "--", binary, "6000000"])
        #expect(recorded.status == 0, "\(recorded.stderr)")

        let shown = try JSONReport(try Support.perch(["report", "-i", data, "--json", "--sort", "sym"]).stdout)
        let folded = try JSONReport(try Support.perch(["report", "-i", data, "--json", "--sort", "sym", "--no-inline"]).stdout)
        #expect(shown.summary["inlinedFunctions"] as? String == "shown")
        #expect(folded.summary["inlinedFunctions"] as? String == "folded")
        func selfShare(_ report: JSONReport, _ symbol: String) -> Double {
            report.entries.filter { $0["symbol"] as? String == symbol }.compactMap { $0["self"] as? Double }.reduce(0, +)
        }
        let mixShown = selfShare(shown, "mix"), outerShown = selfShare(shown, "outer")
        #expect(mixShown > 50, "the inlined loop holds the time: mix \(mixShown)%")
        #expect(selfShare(folded, "mix") == 0, "no [i] row with --no-inline")
        #expect(abs(selfShare(folded, "outer") - (mixShown + outerShown)) < 0.5,
                "outer gets mix's time: \(selfShare(folded, "outer"))% vs \(mixShown)% + \(outerShown)%")

        let text = try Support.perch(["report", "-i", data, "--no-inline"]).stdout
        #expect(text.contains("# Inlined functions: folded into the functions they were inlined into (--no-inline)"))
        #expect(try Support.perch(["report", "-i", data]).stdout.contains("# Inlined functions: frames of their own ([i])"))

        let foldedFile = Support.workDirectory + "/inline.folded"
        #expect(try Support.perch(["report", "-i", data, "--no-inline", "--folded", foldedFile]).status == 0)
        let lines = try String(contentsOfFile: foldedFile, encoding: .utf8).split(separator: "\n")
        #expect(!lines.contains { $0.contains(";mix") }, "folded has no inlined frame")
        #expect(lines.contains { $0.contains(";outer ") })
    }
}
