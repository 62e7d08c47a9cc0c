import Foundation
import Testing
import TestSupport

/// Code without a name of its own, end to end on the real kernel: the vdso (`[vdso]`, which has no
/// file: `perch record` keeps the kernel's image by build id) and stripped binaries (functions
/// named by their `.eh_frame` FDE: `gzip+0x4290`). Serialized: the shares need the CPUs.
@Suite(.serialized) struct NamelessCodeEndToEndTests {
    private func output(_ name: String) -> String { Support.workDirectory + "/" + name }

    /// Folded stacks as (frames outermost first, count).
    private func folded(_ path: String) throws -> [(frames: [String], count: Int)] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { return nil }
            return (line[..<space].split(separator: ";").map(String.init), count)
        }
    }

    private func share(_ stacks: [(frames: [String], count: Int)], where predicate: ([String]) -> Bool) -> Double {
        let total = stacks.reduce(0) { $0 + $1.count }
        let matching = stacks.filter { predicate($0.frames) }.reduce(0) { $0 + $1.count }
        return total == 0 ? 0 : Double(matching) * 100 / Double(total)
    }

    /// Whether a stack reaches the program's entry (or ld.so's, for the loader's own samples).
    private func reachesRoot(_ frames: [String]) -> Bool {
        frames.contains { $0 == "_start" || $0.hasPrefix("__libc_start_") || $0 == "_dl_start" }
    }

    /// Runs perch with `XDG_CACHE_HOME` (where vdso images are kept) set to `cache`.
    private func perch(cache: String, _ arguments: [String]) throws -> Support.Outcome {
        try Support.run("env", ["XDG_CACHE_HOME=\(cache)", "HOME=\(cache)", Support.perch] + arguments)
    }

    private static let clockLoop = """
        #include <stdlib.h>
        #include <time.h>
        __attribute__((noinline)) double now(void) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            return t.tv_sec + t.tv_nsec * 1e-9;
        }
        __attribute__((noinline)) long spin(double seconds) {
            long calls = 0;
            double end = now() + seconds;
            while (now() < end) calls++;
            return calls;
        }
        int main(int argc, char **argv) { return spin(argc > 1 ? atof(argv[1]) : 1.0) > 0 ? 0 : 1; }
        """

    // MARK: [vdso]

    @Test func vdsoFramesAreNamedAndUnwoundToMain() throws {
        let binary = try CCompiler.compile(source: Self.clockLoop, name: "clock_loop", flags: ["-O2", "-g", "-fomit-frame-pointer"])
        let cache = try makeTemporaryDirectory(prefix: "perch-vdso-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let stacks = output("vdso-loop.folded")
        let result = try perch(cache: cache, ["record", "-o", output("vdso-loop.data"), "--folded", stacks, "--", binary, "1.5"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = Support.report(ofRecording: result)
        // The text report names the vdso function as perf does, in [vdso].
        let row = try #require(report.split(separator: "\n").first { $0.contains("__vdso_clock_gettime") }, "\(report)")
        #expect(row.contains("[vdso]"), "\(row)")

        // The image was kept under its build id, which readelf reads from the copy.
        let kept = try FileManager.default.contentsOfDirectory(atPath: cache + "/perch/vdso")
        #expect(kept.count == 1, "\(kept)")
        let name = try #require(kept.first)
        let notes = try ProcessRunner.output(["readelf", "-n", cache + "/perch/vdso/" + name])
        #expect(notes.contains("Build ID: \(name)"), "\(notes)")

        // Folded: the vdso frame is named and its stacks go on through clock_gettime to main.
        let all = try folded(stacks)
        let inVDSO = all.filter { $0.frames.last == "__vdso_clock_gettime" }
        #expect(share(all) { $0.last == "__vdso_clock_gettime" } >= 10, "\(all.prefix(5))")
        #expect(share(inVDSO) { $0.contains("spin") && $0.contains("main") && reachesRoot($0) } >= 95,
                "\(inVDSO.prefix(5))")
        #expect(share(all, where: reachesRoot) >= 95, "\(all.filter { !reachesRoot($0.frames) }.prefix(5))")
        #expect(!all.contains { $0.frames.contains("[[vdso]]") || $0.frames.contains("[unknown]") }, "unnamed frames remain")
    }

    @Test func pythonTimeLoopReachesStartThroughTheVDSO() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return }
        let cache = try makeTemporaryDirectory(prefix: "perch-vdso-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let stacks = output("vdso-python.folded")
        let script = "import time\nt = time.time() + 1.5\nwhile time.time() < t: pass\n"
        let result = try perch(cache: cache, ["record", "-o", output("vdso-python.data"), "--folded", stacks, "--",
                                              "/usr/bin/python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Support.report(ofRecording: result).contains("__vdso_clock_gettime"))
        let all = try folded(stacks)
        let vdsoShare = share(all) { $0.last == "__vdso_clock_gettime" }
        #expect(vdsoShare >= 5, "vdso self share \(vdsoShare)%")
        #expect(share(all.filter { $0.frames.last == "__vdso_clock_gettime" }, where: reachesRoot) >= 95)
        #expect(share(all, where: reachesRoot) >= 95, "\(all.filter { !reachesRoot($0.frames) }.prefix(5))")
    }

    @Test func aVDSOImageThatIsNotTheRecordedOneIsNotUsedAndTheReportSaysSo() throws {
        let binary = try CCompiler.compile(source: Self.clockLoop, name: "clock_loop", flags: ["-O2", "-g", "-fomit-frame-pointer"])
        let cache = try makeTemporaryDirectory(prefix: "perch-vdso-cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let recording = output("vdso-mismatch.data")
        let result = try perch(cache: cache, ["record", "-o", recording, "--", binary, "0.5"])
        #expect(result.status == 0, "\(result.stderr)")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: cache + "/perch/vdso").first)

        // Reported where no copy is kept: not symbolized, and said why.
        let empty = try makeTemporaryDirectory(prefix: "perch-vdso-empty")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let missing = try perch(cache: empty, ["report", "-i", recording])
        #expect(missing.status == 0, "\(missing.stderr)")
        #expect(!missing.stdout.contains("__vdso_clock_gettime"))
        #expect(missing.stdout.contains("# Note: the vdso image of the recording (build id \(name))"), "\(missing.stdout.prefix(1500))")

        // A file kept under the recorded id that is another image (another kernel's): refused too.
        try FileManager.default.createDirectory(atPath: empty + "/perch/vdso", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: binary, toPath: empty + "/perch/vdso/" + name)
        let wrong = try perch(cache: empty, ["report", "-i", recording])
        #expect(!wrong.stdout.contains("__vdso_clock_gettime"))
        #expect(wrong.stdout.contains("build id \(name)"), "\(wrong.stdout.prefix(1500))")

        // The kept copy: named.
        let found = try perch(cache: cache, ["report", "-i", recording])
        #expect(found.stdout.contains("__vdso_clock_gettime"), "\(found.stdout.prefix(1500))")
    }

    // MARK: Stripped binaries

    /// A few MB of text that compresses like prose: words from a small vocabulary, in a fixed order.
    private func writeCompressibleText(to path: String, bytes: Int) throws {
        let words = ["perch", "sample", "stack", "frame", "kernel", "unwind", "symbol", "profile", "thread", "gzip",
                     "deflate", "window", "match", "length", "distance", "huffman", "tree", "block", "literal", "code"]
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        var text = [UInt8]()
        text.reserveCapacity(bytes)
        while text.count < bytes {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            text += words[Int(state >> 59) % words.count].utf8
            text.append(state >> 56 & 7 == 0 ? 0x0a : 0x20)
        }
        try Data(text).write(to: URL(fileURLWithPath: path))
    }

    /// FDE starts of `path`, as `readelf --debug-dump=frames` lists them.
    private func fdeStarts(_ path: String) throws -> Set<UInt64> {
        let dump = try ProcessRunner.output(["readelf", "--debug-dump=frames", path])
        return Set(dump.split(separator: "\n").compactMap { line -> UInt64? in
            guard line.contains(" FDE "), let range = line.split(separator: " ").last(where: { $0.hasPrefix("pc=") }) else { return nil }
            return UInt64(range.dropFirst(3).prefix { $0 != "." }, radix: 16)
        })
    }

    @Test func strippedGzipIsSplitByFunctionInEveryOutput() throws {
        let gzip = "/usr/bin/gzip"
        guard FileManager.default.isExecutableFile(atPath: gzip),
              try ProcessRunner.output(["file", "-L", gzip]).contains("stripped"),
              !(try ProcessRunner.output(["file", "-L", gzip]).contains("not stripped")) else { return }
        let input = output("gzip-input.txt")
        try writeCompressibleText(to: input, bytes: 6 << 20)
        let recording = output("gzip.data")
        let result = try Support.perch(["record", "-o", recording, "--", gzip, "-9", "-f", "-k", input])
        #expect(result.status == 0, "\(result.stderr)")
        let files = (folded: output("gzip.folded"), svg: output("gzip.svg"), speedscope: output("gzip.speedscope.json"),
                     pprof: output("gzip.pb.gz"))
        let text = try Support.perch(["report", "-i", recording, "--comm", "gzip", "--folded", files.folded, "--flamegraph", files.svg,
                                      "--speedscope", files.speedscope, "--pprof", files.pprof])
        #expect(text.status == 0, "\(text.stderr)")

        // JSON: the top rows are several distinct gzip functions, not one [unknown].
        let json = try JSONReport(try Support.perch(["report", "-i", recording, "--comm", "gzip", "--json"]).stdout)
        let gzipRows = json.entries.filter { $0["dso"] as? String == "gzip" }
        let top = gzipRows.prefix(4).compactMap { $0["symbol"] as? String }
        #expect(top.count == 4 && top.allSatisfy { $0.hasPrefix("gzip+0x") } && Set(top).count == 4, "\(top)")
        let unknown = gzipRows.filter { $0["symbol"] as? String == "[unknown]" }.compactMap { $0["overhead"] as? Double }.reduce(0, +)
        #expect(unknown < 1, "\(unknown)% of gzip is still [unknown]")

        // Each name is an FDE's start, so one function has one name.
        let starts = try fdeStarts(gzip)
        let names = Set(gzipRows.compactMap { $0["symbol"] as? String }.filter { $0.hasPrefix("gzip+0x") })
        for name in names {
            #expect(UInt64(name.dropFirst("gzip+0x".count), radix: 16).map(starts.contains) == true, "\(name) is no FDE start")
        }

        // The same names in every output.
        let first = try #require(top.first)
        #expect(text.stdout.contains("[.] \(first)"), "text")
        #expect(try folded(files.folded).contains { $0.frames.contains(first) }, "folded")
        #expect(try String(contentsOfFile: files.svg, encoding: .utf8).contains(first), "svg")
        #expect(try String(contentsOfFile: files.speedscope, encoding: .utf8).contains("\"\(first)\""), "speedscope")
        // pprof: the name in the string table (field 6: tag 0x32, length, bytes).
        let decompressed = output("gzip.pb")
        try ProcessRunner.output(["sh", "-c", "gzip -dc < '\(files.pprof)' > '\(decompressed)'"])
        let table = try Data(contentsOf: URL(fileURLWithPath: decompressed))
        #expect(table.range(of: Data([0x32, UInt8(first.utf8.count)] + Array(first.utf8))) != nil, "pprof")
    }
}
