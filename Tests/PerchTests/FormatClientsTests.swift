import Foundation
import Testing
import TestSupport

/// Perch's pprof and speedscope files read by the real clients of their formats: `go tool pprof`
/// (Debian's golang-go) and speedscope's published JSON schema (python3's jsonschema).
/// Serialized: the recordings need the CPUs.
@Suite(.serialized) struct FormatClientsTests {
    private func output(_ name: String) -> String { Support.workDirectory + "/" + name }

    static let goReady = Support.commandExists("go")
    static let jsonschemaReady = (try? Support.run("python3", ["-c", "import jsonschema"]))?.status == 0
    static var data: String { Support.packageRoot + "/Tests/PerchTests/Data/" }

    /// One row of `go tool pprof -top`: flat and cum, summed per function name.
    struct Row: Equatable { var flat: Int64; var cum: Int64 }

    /// `go tool pprof -top` of `file` for `sampleIndex`, every node shown, values in plain numbers
    /// (`-unit=ns` for time), by function name; and the header lines (File:, Type:).
    func top(_ file: String, sampleIndex: String) throws -> (rows: [String: Row], header: [String]) {
        let result = try Support.run("go", ["tool", "pprof", "-top", "-nodecount=1000000", "-nodefraction=0", "-edgefraction=0",
                                            "-unit=ns", "-sample_index=\(sampleIndex)", file])
        #expect(result.status == 0, "\(result.stderr)")
        var rows: [String: Row] = [:], header: [String] = [], inTable = false
        for line in (result.stdout + result.stderr).split(separator: "\n") {
            if line.contains("flat%") && line.contains("cum%") { inTable = true; continue }
            guard inTable else { header.append(String(line)); continue }
            let columns = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard columns.count == 6 else { continue }
            func number(_ text: Substring) -> Int64? { Int64(text.hasSuffix("ns") ? text.dropLast(2) : text) }
            guard let flat = number(columns[0]), let cum = number(columns[3]) else {
                Issue.record("unreadable -top line: \(line)"); continue
            }
            let name = String(columns[5]).trimmingCharacters(in: .whitespaces)
            var row = rows[name] ?? Row(flat: 0, cum: 0)
            row.flat += flat
            row.cum = max(row.cum, cum)
            rows[name] = row
        }
        return (rows, header)
    }

    /// `perch report --json --sort sym --children`: self and children per symbol, in samples
    /// (`Samples`) or in the profile's weight (`Weight`).
    func report(_ stdout: String, _ unit: String) throws -> [String: Row] {
        var rows: [String: Row] = [:]
        for entry in try JSONReport(stdout).entries {
            guard let symbol = entry["symbol"] as? String, let flat = entry["self\(unit)"] as? Double,
                  let cum = entry["children\(unit)"] as? Double else { continue }
            rows[symbol] = Row(flat: Int64(flat), cum: Int64(cum))
        }
        return rows
    }

    static func named(_ rows: [String: Row]) -> [String: Row] { rows.filter { !($0.key.hasPrefix("[") && $0.key.hasSuffix("]")) } }
    static func unnamedSelf(_ rows: [String: Row]) -> Int64 {
        rows.filter { $0.key.hasPrefix("[") && $0.key.hasSuffix("]") }.values.reduce(0) { $0 + $1.flat }
    }

    @Test(.enabled(if: goReady, "go is not installed (apt-get install golang-go)"))
    func goToolPprofShowsWhatPerchReportShows() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("clients-pprof.data"), pprof = output("clients.pb.gz")
        #expect(try Support.perch(["record", "-q", "--call-graph", "fp", "-o", data, "--", binary, "60"]).status == 0)
        let report = try Support.perch(["report", "-i", data, "--json", "--sort", "sym", "--children", "--pprof", pprof])
        #expect(report.status == 0, "\(report.stderr)")

        // -top, in samples and in the event's nanoseconds: every function perch reports, with the
        // same self (flat) and inclusive (cum) values, and no other.
        for (index, unit) in [("samples", "Samples"), ("cpu", "Weight")] {
            let (rows, header) = try top(pprof, sampleIndex: index)
            let expected = try self.report(report.stdout, unit)
            #expect(rows.count > 3 && expected.count > 3)
            #expect(Self.named(rows) == Self.named(expected), "-sample_index=\(index): pprof \(rows.filter { expected[$0.key] != $0.value }), perch \(expected.filter { rows[$0.key] != $0.value })")
            // Code without a symbol: perch report calls it [unknown]; pprof, as the folded stacks
            // and flame graphs, by its file ([ld-linux-x86-64.so.2]). The same self values.
            #expect(Self.unnamedSelf(rows) == Self.unnamedSelf(expected))
            // The program is the profile's main binary (its first mapping), not the loader.
            let name = URL(fileURLWithPath: binary).lastPathComponent
            #expect(header.contains("File: \(name)"), "\(header)")
            #expect(header.contains(index == "cpu" ? "Type: cpu" : "Type: samples"), "\(header)")
        }
        for (symbol, share) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let rows = try top(pprof, sampleIndex: "samples").rows
            let total = Double(rows["main"]?.cum ?? 0)
            #expect(abs(Double(rows[symbol]?.cum ?? 0) * 100 / total - share) <= 3, "\(symbol)")
        }

        // -traces: each stack once per thread, leaf first, with perch's folded counts.
        let folded = output("clients.folded")
        #expect(try Support.perch(["report", "-i", data, "--folded", folded]).status == 0)
        var expected: [String: Int] = [:]
        for line in try String(contentsOfFile: folded, encoding: .utf8).split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { continue }
            expected[String(line[..<space]), default: 0] += count
        }
        let traces = try Support.run("go", ["tool", "pprof", "-traces", "-sample_index=samples", pprof])
        #expect(traces.status == 0, "\(traces.stderr)")
        var seen: [String: Int] = [:]
        for block in traces.stdout.components(separatedBy: "-----------+-------------------------------------------------------").dropFirst() {
            var count: Int?, frames: [String] = [], thread = ""
            for line in block.split(separator: "\n") {
                if line.contains(":  ") {
                    let label = line.split(separator: ":", maxSplits: 1)
                    if label.first?.trimmingCharacters(in: .whitespaces) == "thread" { thread = label[1].trimmingCharacters(in: .whitespaces) }
                    continue
                }
                let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                if count == nil, parts.count == 2, let value = Int(parts[0]) {
                    count = value
                    frames.append(parts[1].trimmingCharacters(in: .whitespaces))
                } else if count != nil {
                    frames.append(line.trimmingCharacters(in: .whitespaces))
                }
            }
            guard let count else { continue }
            // Perch's folded stacks start with the command, pprof's traces label it `thread`.
            seen[([thread] + frames.reversed()).joined(separator: ";"), default: 0] += count
        }
        #expect(!seen.isEmpty && seen == expected, "traces \(seen.filter { expected[$0.key] != $0.value }), folded \(expected.filter { seen[$0.key] != $0.value })")
    }

    @Test(.enabled(if: goReady, "go is not installed (apt-get install golang-go)"))
    func goToolPprofShowsOffCPUNanoseconds() throws {
        let workload = try Support.fixture("off_cpu")
        let data = output("clients-off-cpu.data"), pprof = output("clients-off-cpu.pb.gz")
        #expect(try Support.perch(["record", "--switches", "-q", "-o", data, "--", workload, "6"]).status == 0)
        let report = try Support.perch(["report", "-i", data, "--off-cpu", "--json", "--sort", "sym", "--children", "--pprof", pprof])
        #expect(report.status == 0, "\(report.stderr)")
        let (rows, header) = try top(pprof, sampleIndex: "off-cpu")
        #expect(header.contains("Type: off-cpu"), "\(header)")
        let expected = try self.report(report.stdout, "Weight")
        #expect(Self.named(rows) == Self.named(expected))
        #expect(Self.unnamedSelf(rows) == Self.unnamedSelf(expected))
        // The fixture sleeps 10 ms per round in sleep_short: 60 ms at least, in nanoseconds.
        let short = rows["sleep_short"]?.cum ?? 0
        #expect(short >= 60_000_000 * 95 / 100 && short < 600_000_000, "sleep_short: \(short) ns")
    }

    @Test(.enabled(if: jsonschemaReady, "python3's jsonschema is not installed (pip install jsonschema)"))
    func speedscopeFilesMatchThePublishedSchema() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("clients-speedscope.data")
        #expect(try Support.perch(["record", "-q", "--switches", "-o", data, "--", binary, "20"]).status == 0)
        let schema = Self.data + "speedscope-file-format-schema.json", validate = Self.data + "validate_speedscope.py"
        for (label, options) in [("on-CPU", [String]()), ("off-CPU", ["--off-cpu"]), ("on+off-CPU", ["--on-off-cpu"])] {
            let file = output("clients-\(label).speedscope.json")
            let report = try Support.perch(["report", "-i", data, "--speedscope", file] + options)
            #expect(report.status == 0, "\(label): \(report.stderr)")
            let check = try Support.run("python3", [validate, schema, file])
            #expect(check.status == 0, "\(label): \(check.stdout)")
        }
        // The check can fail: a frame without a name is refused.
        let broken = output("clients-broken.speedscope.json")
        try #"{"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {"frames": [{"file": "x"}]}, "profiles": []}"#
            .write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(try Support.run("python3", [validate, schema, broken]).status == 1)
    }
}
