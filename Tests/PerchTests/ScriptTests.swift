import Foundation
import Testing
import TestSupport

/// `perch script` beside `perf script`, on the same recordings: perf's fp and dwarf recordings
/// and Perch's own, of the 5:3:2 fixture. Serialized: the recordings need the CPUs.
@Suite(.serialized) struct ScriptTests {
    private func output(_ name: String) -> String { Support.workDirectory + "/" + name }

    /// One sample of perf script's text: its first line and its frames' addresses, sampled frame
    /// first, an address repeated by inlined frames counted once.
    struct Sample: Equatable {
        var header: String
        var addresses: [UInt64]
    }

    static func samples(_ text: String) -> [Sample] {
        var samples: [Sample] = []
        var current: Sample?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                if let sample = current { samples.append(sample) }
                current = nil
            } else if line.hasPrefix("\t") {
                guard let address = line.split(separator: " ").first.flatMap({ UInt64($0.trimmingCharacters(in: .whitespaces), radix: 16) }) else { continue }
                if current?.addresses.last != address { current?.addresses.append(address) }
            } else if !line.hasPrefix("  ") {
                if let sample = current { samples.append(sample) }
                current = Sample(header: String(line), addresses: [])
            }
        }
        if let sample = current { samples.append(sample) }
        return samples
    }

    /// Whether `perf`'s addresses are `perch`'s, or (`prefix`) the first of them: return addresses
    /// may differ by one where perf's DWARF unwinder gives `pc - 1` for callers.
    static func sameStack(_ perch: [UInt64], _ perf: [UInt64], prefix: Bool) -> Bool {
        guard prefix ? perf.count <= perch.count : perf.count == perch.count else { return false }
        return zip(perch, perf).enumerated().allSatisfy { index, pair in
            pair.0 == pair.1 || (index > 0 && max(pair.0, pair.1) - min(pair.0, pair.1) == 1)
        }
    }

    /// Samples per folded stack, each stack kept to the fixture's own functions (libc's and the
    /// loader's names are their symbolizers' choices: perf says `__libc_start_main_impl` where
    /// Perch, as llvm-symbolizer, says `__libc_start_main@GLIBC_2.2.5`).
    static func fixtureStacks(_ folded: String) -> [String: Int] {
        let own: Set<Substring> = ["main", "work_a", "work_b", "work_c", "unit"]
        var stacks: [String: Int] = [:]
        for line in folded.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { continue }
            let kept = line[..<space].split(separator: ";").filter { own.contains($0) }.joined(separator: ";")
            stacks[kept, default: 0] += count
        }
        return stacks
    }

    private func collapse(_ text: String, _ name: String) throws -> String {
        let path = output(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try Support.perch(["collapse", path])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    enum Recorder: String, CaseIterable {
        case perfFramePointers = "perf record -g"
        case perfDWARF = "perf record --call-graph dwarf"
        case perchDWARF = "perch record --call-graph dwarf"
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"), arguments: Recorder.allCases)
    func sameStacksAsPerfScript(_ recorder: Recorder) throws {
        let data = output("script-\(recorder).data")
        let recorded: Support.Outcome
        switch recorder {
        case .perfFramePointers:
            let binary = try Support.fixture("known_weights")
            recorded = try Support.run("perf", ["record", "-q", "-e", "cpu-clock", "-F", "2000", "-g", "-o", data, "--", binary, "150"])
        case .perfDWARF:
            let binary = try Support.fixture("known_weights", flags: ["-O2", "-g", "-fomit-frame-pointer"])
            recorded = try Support.run("perf", ["record", "-q", "-e", "cpu-clock", "-F", "1000", "--call-graph", "dwarf", "-o", data, "--", binary, "150"])
        case .perchDWARF:
            let binary = try Support.fixture("known_weights", flags: ["-O2", "-g", "-fomit-frame-pointer"])
            recorded = try Support.perch(["record", "-q", "-F", "1000", "--call-graph", "dwarf", "-o", data, "--", binary, "150"])
        }
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let perch = try Support.perch(["script", "-i", data])
        #expect(perch.status == 0 && perch.stderr.isEmpty, "\(perch.stderr)")
        let perf = try Support.run("perf", ["script", "-i", data])
        #expect(perf.status == 0)

        // The same samples, in the same order, with the same first lines (comm, tid, cpu, time,
        // period, event): perf's column layout to the space.
        let ours = Self.samples(perch.stdout), theirs = Self.samples(perf.stdout)
        #expect(ours.count > 100 && ours.count == theirs.count, "\(ours.count) samples, perf \(theirs.count)")
        #expect(ours.map(\.header) == theirs.map(\.header))

        // The same frames, by address (kernel frames included). perf unwinds Perch's DWARF
        // recordings less far (it stops in libc's start-up code, Perch reaches _start), so there
        // perf's stack is the start of Perch's.
        let mismatches = zip(ours, theirs).filter {
            !Self.sameStack($0.addresses, $1.addresses, prefix: recorder == .perchDWARF)
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) stacks differ, first: \(mismatches.first.map { "\($0.0)\n\($0.1)" } ?? "")")

        // Folded by perch collapse (stackcollapse-perf.pl's rules): the same stacks through the
        // fixture's functions, with the same counts; and the 5:3:2 weights.
        let folded = Self.fixtureStacks(try collapse(perch.stdout, "script-\(recorder).perch.txt"))
        let perfFolded = Self.fixtureStacks(try collapse(perf.stdout, "script-\(recorder).perf.txt"))
        #expect(folded == perfFolded)
        let total = Double(folded.values.reduce(0, +))
        for (function, expected) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let share = Double(folded.filter { $0.key.contains(function) }.values.reduce(0, +)) * 100 / total
            #expect(abs(share - expected) <= 3, "\(recorder): \(function) \(share)%")
        }
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func fieldsAndHeader() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("script-fields.data")
        let recorded = try Support.perch(["record", "-q", "--call-graph", "fp", "-o", data, "--", binary, "20"])
        #expect(recorded.status == 0, "\(recorded.stderr)")

        // Columns without a stack are perf's exactly.
        for fields in ["comm,pid,tid,time,event", "comm,tid,cpu,period", "tid,time"] {
            let ours = try Support.perch(["script", "-i", data, "-F", fields])
            let theirs = try Support.run("perf", ["script", "-i", data, "-F", fields])
            #expect(ours.status == 0 && !ours.stdout.isEmpty, "\(ours.stderr)")
            #expect(ours.stdout == theirs.stdout, "-F \(fields)")
        }
        // comm,tid,ip,sym: 'comm tid' lines, then address and name only.
        let chosen = try Support.perch(["script", "-i", data, "-F", "comm,tid,ip,sym"])
        let lines = chosen.stdout.split(separator: "\n")
        #expect(lines.first?.split(separator: " ").count == 2, "\(lines.first ?? "")")
        let frames = lines.filter { $0.hasPrefix("\t") }
        // No dso column and no offsets (code no symbol covers is named `module+0x<start>`, which is
        // its name, not an offset: so the check is on named functions).
        #expect(!frames.isEmpty && frames.allSatisfy { !$0.contains("(") }, "\(frames.prefix(3))")
        #expect(!frames.contains { $0.contains(" unit+0x") || $0.contains(" main+0x") }, "\(frames.prefix(3))")
        #expect(frames.contains { $0.hasSuffix(" unit") })
        // '-' changes the default; a field the recording lacks, or an unknown one, is refused.
        let withoutPeriod = try Support.perch(["script", "-i", data, "-F", "-period,-cpu"])
        #expect(withoutPeriod.stdout.split(separator: "\n").first?.hasSuffix(" cpu-clock: ") == true)
        #expect(!withoutPeriod.stdout.contains("["+"00"))
        #expect(try Support.perch(["script", "-i", data, "-F", "bogus"]).status == 64)

        // --header: the recording's description, then the samples; --header-only: no samples.
        let withHeader = try Support.perch(["script", "-i", data, "--header"])
        #expect(withHeader.stdout.hasPrefix("# ========\n"))
        #expect(withHeader.stdout.contains("# cmdline : ") && withHeader.stdout.contains(binary + " 20"))
        #expect(withHeader.stdout.contains("# event : name = cpu-clock, type = 1, sample_freq = "))
        #expect(withHeader.stdout.contains("sample_type = IP|TID|TIME|CALLCHAIN|"))
        let body = try Support.perch(["script", "-i", data]).stdout
        #expect(withHeader.stdout.hasSuffix("#\n" + body))
        let headerOnly = try Support.perch(["script", "-i", data, "--header-only"]).stdout
        #expect(headerOnly.hasPrefix("# ========\n") && headerOnly.split(separator: "\n").allSatisfy { $0.hasPrefix("#") })
    }

    @Test func closedPipeEndsQuietly() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("script-pipe.data")
        #expect(try Support.perch(["record", "-q", "-o", data, "--", binary, "40"]).status == 0)
        let result = try Support.run("bash", ["-c", "set -o pipefail; '\(Support.perch)' script -i '\(data)' | head -1"])
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 1)
    }
}
