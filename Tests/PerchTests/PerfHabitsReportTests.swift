import Foundation
import Testing

/// `perch report` with perf report's options: -n, --header/--header-only, --stdio, -v/-q,
/// --max-stack, --dsos/--comms/--pids/--tids, -g/--call-graph in perf's syntax and -G, each
/// checked against what the recording holds (known_weights: work_a, work_b, work_c call unit()
/// 5, 3 and 2 times a round).
@Suite(.serialized) struct PerfHabitsReportTests {
    static let data = Support.workDirectory + "/habits-report.data"

    /// One recording of known_weights shared by the tests (recorded once).
    static let recorded: Result<String, any Error> = Result {
        let binary = try Support.fixture("known_weights")
        let result = try Support.perch(["record", "-q", "-o", data, "--", binary, "20"])
        guard result.status == 0 else { throw TestFailure("record failed: \(result.stderr)") }
        return binary
    }

    private func report(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Support.Outcome {
        _ = try Self.recorded.get()
        let result = try Support.perch(["report", "-i", Self.data] + arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// The entry lines (those with a percentage in the first column).
    private func entries(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && $0.trimmed().first?.isNumber == true && $0.contains("%  ") }
    }

    @Test func showNrSamplesAddsACountColumnMatchingTheJSONCounts() throws {
        let json = try JSONReport(try report(["--sort", "sym", "--json"]).stdout)
        for spelling in ["-n", "--show-nr-samples"] {
            let text = try report(["--sort", "sym", spelling]).stdout
            #expect(text.contains("# Overhead  Samples  Symbol"), "\(text.prefix(900))")
            let rows = entries(text)
            #expect(rows.count == json.entries.count && !rows.isEmpty)
            var total = 0
            for (row, entry) in zip(rows, json.entries) {
                let columns = row.split(separator: " ", omittingEmptySubsequences: true)
                let count = Int(columns[1]) ?? -1
                #expect(count == entry["selfSamples"] as? Int, "\(row) vs \(entry)")
                #expect(row.hasSuffix(entry["symbol"] as? String ?? "?"), "\(row)")
                total += count
            }
            #expect(total == json.summary["totalSamples"] as? Int, "\(total)")
            // And against the folded stacks: unit's leaf count is its samples.
            let folded = try report(["--folded", "-", "--no-inline"]).stdout
            let unitSamples = folded.split(separator: "\n").filter { $0.split(separator: " ").first?.hasSuffix(";unit") == true }
                .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
            let unitRow = try #require(rows.first { $0.hasSuffix("[.] unit") })
            #expect(Int(unitRow.split(separator: " ")[1]) == unitSamples, "\(unitRow) vs folded \(unitSamples)")
        }
        // With --children the column follows Children and Self.
        #expect(try report(["--sort", "sym", "-n", "--children"]).stdout.contains("# Children      Self  Samples  Symbol"))
    }

    @Test func headerPrintsWhatTheRecordingSaysOfItself() throws {
        let binary = try Self.recorded.get()
        let json = try JSONReport(try report(["--json"]).stdout)
        let only = try report(["--header-only"]).stdout
        #expect(only.hasPrefix("# ========\n") && only.hasSuffix("# ========\n#\n"), "\(only)")
        #expect(!only.contains("# Overhead"), "\(only)")
        var hostBytes = [CChar](repeating: 0, count: 256)
        gethostname(&hostBytes, hostBytes.count)
        let host = String(decoding: hostBytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #expect(only.contains("# hostname : \(host)\n"), "\(only)")
        #expect(only.contains("# os release : \(release)\n"), "\(only)")
        #expect(only.contains("# cmdline : ") && only.contains("\(binary) 20\n"), "\(only)")
        #expect(only.contains("# event : name = cpu-clock, sample_freq = 4000, "), "\(only)")
        let count = try #require(only.split(separator: "\n").first { $0.hasPrefix("# sample count : ") })
        #expect(Int(count.split(separator: " ").last ?? "") == json.summary["samples"] as? Int, "\(count) vs \(json.summary)")
        // 20 rounds of known_weights take some hundreds of milliseconds.
        let duration = try #require(only.split(separator: "\n").first { $0.hasPrefix("# sample duration : ") })
        let milliseconds = Double(duration.split(separator: " ")[4]) ?? 0
        #expect(milliseconds > 50 && milliseconds < 60_000, "\(duration)")

        let full = try report(["--header", "--sort", "sym"]).stdout
        #expect(full.hasPrefix(only) && full.contains("# Overhead") && full.contains("[.] unit"), "\(full.prefix(1500))")

        // perf's own file: its header says perf recorded it.
        if Support.commandExists("perf") {
            let perfData = Support.workDirectory + "/habits-perf.data"
            let perf = try Support.run("perf", ["record", "-q", "-o", perfData, "-e", "cpu-clock", "--", binary, "5"])
            try #require(perf.status == 0, "\(perf.stderr)")
            let header = try Support.perch(["report", "-i", perfData, "--header-only"])
            #expect(header.status == 0 && header.stdout.contains("# perf version : 6."), "\(header.stdout)\(header.stderr)")
            #expect(header.stdout.contains("# cmdline : ") && header.stdout.contains("perf record"), "\(header.stdout)")
        }
    }

    @Test func stdioIsTheReportAsItIs() throws {
        #expect(try report(["--stdio", "--sort", "sym"]).stdout == report(["--sort", "sym"]).stdout)
    }

    @Test func quietIsSilentButForErrorsAndVerboseSaysMore() throws {
        let quiet = try report(["-q", "--sort", "sym"])
        #expect(quiet.stderr.isEmpty)
        #expect(!quiet.stdout.split(separator: "\n").contains { $0.hasPrefix("#") }, "\(quiet.stdout)")
        #expect(entries(quiet.stdout) == entries(try report(["--sort", "sym"]).stdout))
        let breakdowns = try report(["-q", "--threads", "--processes"]).stdout
        #expect(!breakdowns.split(separator: "\n").contains { $0.hasPrefix("#") } && breakdowns.contains("known_weights"), "\(breakdowns)")
        // Quiet even where the report had a note for stderr (reading perf.data in its place).
        let directory = Support.workDirectory + "/habits-quiet"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.data, toPath: directory + "/perf.data")
        let fallback = try Support.run(Support.perch, ["report", "--quiet"], directory: directory)
        #expect(fallback.status == 0 && fallback.stderr.isEmpty, "\(fallback.stderr)")
        #expect(fallback.stdout.contains("[.] unit") && !fallback.stdout.contains("#"))
        // An error is still said.
        let missing = try Support.perch(["report", "-q", "-i", directory + "/none.data"])
        #expect(missing.status == 1 && missing.stderr.hasPrefix("perch: error: "), "\(missing.stderr)")

        // -v: a line per shared object, with the samples whose sampled frame is there.
        let binary = try Self.recorded.get()
        let verbose = try report(["-v", "--sort", "dso"])
        let json = try JSONReport(try report(["--sort", "dso", "--json"]).stdout)
        let own = try #require(json.entries.first { $0["dso"] as? String == "known_weights" })
        let line = try #require(verbose.stderr.split(separator: "\n").first { $0.hasPrefix("perch:   \(binary): ") }, "\(verbose.stderr)")
        #expect(line.contains(": \(own["selfSamples"] as? Int ?? -1) samples, "), "\(line) vs \(own)")
        #expect(verbose.stdout == (try report(["--sort", "dso"]).stdout))
        let both = try Support.perch(["report", "-i", Self.data, "-v", "-q"])
        #expect(both.status == 64)
    }

    @Test func maxStackCutsStacksFromTheSampledFrame() throws {
        func children(_ arguments: [String]) throws -> JSONReport {
            try JSONReport(try report(["--sort", "sym", "--children", "--json"] + arguments).stdout)
        }
        let whole = try children([])
        #expect((whole.children(of: "main") ?? 0) > 90)
        let cut = try children(["--max-stack", "2"])
        // unit and its caller are kept; main is three frames up.
        #expect(cut.children(of: "main") == nil, "\(cut.entries.prefix(6))")
        let a = try #require(cut.children(of: "work_a"))
        // (less the samples of a kernel function called from unit, where the cut keeps unit and
        // that function: a few percent at most)
        #expect(a <= (whole.children(of: "work_a") ?? 0) && a > (whole.children(of: "work_a") ?? 0) - 3, "\(a)")
        // Self overhead does not change.
        #expect(try report(["--sort", "sym", "--max-stack", "1"]).stdout == report(["--sort", "sym"]).stdout)
        try #require(try Support.perch(["report", "-i", Self.data, "--max-stack", "-1"]).status == 64)
    }

    /// known_weights and, after it, a copy that spends its time in the kernel: the shared
    /// recording of known_weights alone may hold no kernel sample at all on a quiet machine.
    static let withKernel: Result<String, any Error> = Result {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/habits-report-kernel.data"
        let result = try Support.perch(["record", "-q", "-o", data, "--", "sh", "-c", "\(binary) 20; head -c 400000000 /dev/zero > /dev/null"])
        guard result.status == 0 else { throw TestFailure("record failed: \(result.stderr)") }
        return data
    }

    @Test func dsosCommsPidsTidsFilterAsInPerf() throws {
        let kernelData = try Self.withKernel.get()
        func report(_ arguments: [String]) throws -> Support.Outcome {
            let result = try Support.perch(["report", "-i", kernelData] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return result
        }
        let json = try JSONReport(try report(["--sort", "dso", "--json"]).stdout)
        let kernel = try #require(json.entries.first { $0["dso"] as? String == "[kernel.kallsyms]" })
        let onlyKernel = try JSONReport(try report(["--dsos", "[kernel.kallsyms]", "--sort", "dso,sym", "--json"]).stdout)
        #expect(!onlyKernel.entries.isEmpty && onlyKernel.entries.allSatisfy { $0["dso"] as? String == "[kernel.kallsyms]" })
        #expect(onlyKernel.summary["totalSamples"] as? Int == kernel["selfSamples"] as? Int)
        let binary = try Self.recorded.get()
        for name in ["known_weights", binary] {
            let own = try JSONReport(try report(["--dsos", "\(name),[kernel.kallsyms]", "--sort", "dso", "--json"]).stdout)
            #expect(Set(own.entries.compactMap { $0["dso"] as? String }) == ["known_weights", "[kernel.kallsyms]"], "\(name): \(own.entries)")
        }
        // perf's plural spellings are the singular ones.
        let pid = try #require(try JSONReport(try report(["--sort", "pid", "--comm", "known_weights", "--json"]).stdout).entries.first?["pid"] as? Int)
        for (plural, singular, value) in [("--comms", "--comm", "known_weights"), ("--pids", "--pid", "\(pid)"), ("--tids", "--tid", "\(pid)")] {
            let a = try report([plural, value, "--sort", "sym"]).stdout
            #expect(a == (try report([singular, value, "--sort", "sym"]).stdout))
            #expect(a.contains("[.] unit"))
            if plural == "--comms" {
                #expect(try report([plural, "other,names", "--sort", "sym"]).stdout.contains("[.] unit") == false)
                #expect(try report([plural, "other,known_weights", "--sort", "sym"]).stdout == a)
            }
        }
        #expect(try report(["--pids", "1,\(pid)", "--sort", "sym"]).stdout.contains("[.] unit"))
        #expect(!(try report(["--pids", "1", "--sort", "sym"]).stdout.contains("[.] unit")))
    }

    /// The lines of unit's call graph (after its entry line, up to the blank line).
    private func graph(_ arguments: [String]) throws -> [String] {
        let lines = try report(["--sort", "sym", "-q"] + arguments).stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasSuffix("[.] unit") }) else { return [] }
        return Array(lines[(start + 1)...].prefix { !$0.isEmpty }).map { $0.trimmed() }
    }

    @Test func callGraphTakesPerfReportsSyntax() throws {
        // callee (the default): unit, then its callers.
        let callee = try graph(["-g"])
        #expect(callee.count > 4 && callee[1] == "---unit", "\(callee)")
        #expect(callee.contains { $0.hasSuffix("--work_a") }, "\(callee)")
        #expect(try graph(["-g", "callee"]) == callee)
        #expect(try graph(["--call-graph=graph,0.5,callee"]) == callee)
        #expect(try graph(["--call-graph", "graph"]) == callee)
        // caller: from the outermost caller down to unit.
        let caller = try graph(["-g", "caller"])
        #expect(caller.count > 4 && caller[1] == "---_start" && caller.last == "unit", "\(caller)")
        #expect(try graph(["--call-graph=graph,0.5,caller"]) == caller)
        #expect(try graph(["--call-graph=caller"]) == caller)
        #expect(try graph(["--call-graph", "caller"]) == caller)
        #expect(try graph(["-G"]) == caller)
        #expect(try graph(["-gcaller"]) == caller)
        // none: no graph.
        #expect(try report(["--sort", "sym", "-g", "none"]).stdout == report(["--sort", "sym"]).stdout)
        // The percent limit is the smallest share of the entry a branch needs: at 40, work_a
        // (half of unit) stays, work_b (30%) and work_c (20%) go.
        let limited = try graph(["--call-graph=graph,40,callee"])
        #expect(limited.contains("---unit") && limited.contains { $0.contains("work_a") }, "\(limited)")
        #expect(!limited.contains { $0.contains("work_b") || $0.contains("work_c") }, "\(limited)")
        // graph: shares of the total; fractal: of the parent. work_a is half of unit's samples.
        func share(_ lines: [String], _ name: String) -> Double? {
            lines.first { $0.hasSuffix("--\(name)") }.flatMap { line in
                line.split(separator: "-").first { $0.hasSuffix("%") }.flatMap { Double($0.dropLast()) }
            }
        }
        let fractal = try graph(["-g", "fractal"])
        let graphA = try #require(share(callee, "work_a")), fractalA = try #require(share(fractal, "work_a"))
        let unitShare = try #require(JSONReport(try report(["--sort", "sym", "--json"]).stdout).entries.first { $0["symbol"] as? String == "unit" }?["self"] as? Double)
        #expect(abs(fractalA - graphA * 100 / unitShare) < 0.02, "\(fractalA) \(graphA) \(unitShare)")
        #expect(fractalA > 45 && fractalA < 55, "\(fractal)")
        // folded: a chain per line, outermost first with caller.
        let folded = try graph(["-g", "folded,caller"])
        let foldedA = try #require(folded.first { $0.hasSuffix(";main;work_a;unit") }, "\(folded)")
        #expect(foldedA.hasPrefix(String(format: "%.2f%% ", graphA)), "\(foldedA)")
        #expect(try graph(["-g", "folded"]).contains { $0.hasSuffix(" unit;work_b;main;__libc_start_call_main;__libc_start_main@GLIBC_2.2.5;_start") || $0.contains(" unit;work_b;main") })
        // flat: a chain per block, a frame per line.
        let flat = try report(["--sort", "sym", "-q", "-g", "flat"]).stdout
        #expect(flat.contains("\n                unit\n                work_a\n                main\n"), "\(flat.prefix(1500))")
        // Refused with the reason, one line, exit 64.
        for bad in [["-g", "bogus"], ["--call-graph=graph,0.5,10"], ["-g", "address"], ["--call-graph=graph,500"]] {
            let result = try Support.perch(["report", "-i", Self.data] + bad)
            #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1, "\(bad): \(result.stderr)")
        }
    }

    /// perf report options Perch lacks: one line naming the option, why, and what to use.
    @Test(arguments: [["-D"], ["-S", "main"], ["--symbols=main"], ["-U"], ["--percentage", "relative"], ["--stats"], ["--tasks"],
                      ["-T"], ["--hierarchy"], ["--time", "1,2"], ["-F", "overhead,sym"], ["-M", "intel"], ["--vmlinux", "x"],
                      ["--symfs", "/"], ["--no-demangle"], ["--show-total-period"], ["--branch-stack"], ["--group"]])
    func perfReportOptionsPerchLacksSayWhy(_ option: [String]) throws {
        _ = try Self.recorded.get()
        let result = try Support.perch(["report", "-i", Self.data] + option)
        #expect(result.status == 64, "\(option): \(result.stderr)")
        let name = option[0].split(separator: "=")[0]
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("perch: error: perf report's \(name) is not in Perch: "), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func perfReportsForceAndCPUShortOptionsAreAccepted() throws {
        let plain = try report(["--sort", "sym"]).stdout
        #expect(try report(["--sort", "sym", "-f"]).stdout == plain)
        #expect(try report(["--sort", "sym", "--force"]).stdout == plain)
        let cpu0 = try report(["--sort", "sym", "-C", "0", "--json"]).stdout
        #expect(cpu0 == (try report(["--sort", "sym", "--cpu", "0", "--json"]).stdout))
    }

    @Test func interactiveModesAreRefusedNamingTheTextReport() throws {
        for option in ["--tui", "--gtk"] {
            let result = try Support.perch(["report", "-i", Self.data, option])
            #expect(result.status == 64 && result.stderr.contains("--stdio text report is its only mode"), "\(result.stderr)")
        }
        let bogus = try Support.perch(["report", "-i", Self.data, "--bogus"])
        #expect(bogus.status == 64 && bogus.stderr.split(separator: "\n").count == 1 && bogus.stderr.contains("'--bogus'"))
    }
}

private extension StringProtocol {
    func trimmed() -> String { trimmingCharacters(in: .whitespaces) }
}
