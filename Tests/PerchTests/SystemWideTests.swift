import Foundation
import Testing

/// `perch record -a`: the whole machine, attributed to process, thread and function.
@Suite(.serialized, .enabled(if: Support.isRoot && Support.commandExists("setpriv"), "needs root to start other users' programs"))
struct SystemWideTests {
    @Test func anOperatorWithCapPerfmonOnlySeesAnotherUsersProgramsRightly() throws {
        let workload = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/system-wide-perfmon.data"
        let perfmon = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all,+perfmon", "--ambient-caps=+perfmon"]
        // Root's programs, started once the recording runs.
        let result = try Support.run("setpriv", perfmon + [Support.perch, "record", "-a", "--duration", "3", "-o", data, "-q"]) { _ in
            usleep(300_000)
            let first = Process(), second = Process()
            for process in [first, second] {
                process.executableURL = URL(fileURLWithPath: workload)
                process.arguments = ["200"]
                try? process.run()
            }
            first.waitUntilExit()
            second.waitUntilExit()
        }
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Support.run("setpriv", perfmon + [Support.perch, "report", "-i", data, "--json", "--children",
                                                           "--sort", "comm,sym", "--comm", "known_weights"])
        #expect(report.status == 0, "\(report.stderr)")
        let json = try JSONReport(report.stdout)
        for (symbol, expected) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let share = try #require(json.children(of: symbol), "no \(symbol) in \(report.stdout.prefix(1500))")
            #expect(abs(share - expected) <= 2, "\(symbol): \(share)%")
        }
        let byPid = try Support.run("setpriv", perfmon + [Support.perch, "report", "-i", data, "--json", "--sort", "comm,pid",
                                                          "--comm", "known_weights"])
        let pids = try JSONReport(byPid.stdout).entries.compactMap { $0["pid"] as? Int }
        #expect(Set(pids).count == 2, "both runs show under their own pid: \(pids)")

        let refused = try Support.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                  Support.perch, "record", "-a", "--duration", "1", "-o", data + ".2"])
        let paranoid = (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let paranoid, let level = Int(paranoid), level >= 1 {
            #expect(refused.status == 77)
            #expect(refused.stderr.contains("setcap cap_perfmon+ep"), "\(refused.stderr)")
        }
    }

    /// System-wide, Perch samples its own threads too but writes no stack copy for them. The
    /// report counts those stacks as not copied, not as deeper than the copy (whose note advises
    /// a larger copy): the two together are every stack that ends in [truncated], and the
    /// not-copied ones are about the recorder's own samples (its forked child, before exec, has
    /// the same name and real copies).
    @Test func theRecordersOwnStacksAreNotCountedAsDeeperThanTheCopy() throws {
        let workload = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/system-wide-own-stacks.data"
        let result = try Support.perch(["record", "-a", "-F", "20000", "--call-graph", "dwarf", "-o", data, "-q", "--", workload, "100"])
        #expect(result.status == 0, "\(result.stderr)")
        let whole = try JSONReport(try Support.perch(["report", "-i", data, "--json"]).stdout)
        let own = try JSONReport(try Support.perch(["report", "-i", data, "--json", "--comm", "perch"]).stdout)
        let ownSamples = try #require(own.summary["totalSamples"] as? Int)
        let notes = try #require(whole.summary["notes"] as? [String])
        func count(in note: String?) -> Int? {
            // "N% of user stacks (COUNT of ATTEMPTS) ..."
            guard let note, let open = note.firstIndex(of: "("),
                  let of = note[open...].range(of: " of ") else { return nil }
            return Int(note[note.index(after: open)..<of.lowerBound])
        }
        let notCopied = try #require(count(in: notes.first { $0.contains("came with no stack copy") }), "\(notes)")
        let deeper = count(in: notes.first { $0.contains("went deeper than the") && $0.contains("end in [truncated]") }) ?? 0
        #expect(ownSamples > 0)
        #expect(notCopied <= ownSamples + ownSamples / 20 && notCopied >= ownSamples - ownSamples / 20,
                "not copied \(notCopied), the recorder's own samples \(ownSamples): \(notes)")
        #expect(deeper < notCopied, "the workload's stacks are shallow: \(notes)")

        // The text report's header and the pprof's comments carry the same notes, counts included.
        let pprof = Support.workDirectory + "/system-wide-own-stacks.pb.gz"
        let text = try Support.perch(["report", "-i", data, "--pprof", pprof])
        #expect(text.status == 0, "\(text.stderr)")
        let textNotes = text.stdout.split(separator: "\n").filter { $0.hasPrefix("# Note: ") }.map { String($0.dropFirst(8)) }
        let unzipped = try Support.run("sh", ["-c", "gzip -dc '\(pprof)' | base64 -w0"])
        let profile = ProtobufMessage([UInt8](try #require(Data(base64Encoded: unzipped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))))
        let strings = profile.fields(6).map { String(decoding: $0.bytes, as: UTF8.self) }
        let comments = profile.packed(13).map { strings[Int($0)] }
        for (format, printed) in [("text", textNotes), ("pprof", comments)] {
            #expect(count(in: printed.first { $0.contains("came with no stack copy") }) == notCopied, "\(format): \(printed)")
            #expect((count(in: printed.first { $0.contains("went deeper than the") && $0.contains("end in [truncated]") }) ?? 0) == deeper,
                    "\(format): \(printed)")
        }
    }

    @Test func shortLivedProcessesKeepTheirNamesAndSymbols() throws {
        let workload = try Support.fixture("fork_heavy")
        let data = Support.workDirectory + "/fork-heavy.data"
        let result = try Support.perch(["record", "-a", "-o", data, "-q", "--", workload, "300"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Support.perch(["report", "-i", data, "--json", "--sort", "comm,dso,sym", "--comm", "forkling,fork_heavy,true"])
        let entries = try JSONReport(report.stdout).entries
        #expect(entries.contains { $0["comm"] as? String == "forkling" && $0["symbol"] as? String == "forkling_work" },
                "\(report.stdout.prefix(2000))")
        #expect(entries.contains { $0["comm"] as? String == "true" })
        // The fixture's own binary and the dynamic loader always have symbols: nothing there is unknown.
        let unknownInOwnCode = entries.filter {
            ($0["dso"] as? String)?.hasSuffix("fork_heavy") == true && $0["symbol"] as? String == "[unknown]"
        }
        #expect(unknownInOwnCode.isEmpty, "\(unknownInOwnCode)")

        // --cpu keeps each CPU's samples; together they are all of them.
        func total(_ extra: [String]) throws -> Int {
            let report = try Support.perch(["report", "-i", data, "--json"] + extra)
            return try JSONReport(report.stdout).summary["totalSamples"] as? Int ?? -1
        }
        let all = try total([])
        let online = (try String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        let perCPU = try (0..<ProcessInfo.processInfo.activeProcessorCount).map { try total(["--cpu", "\($0)"]) }
        #expect(all > 0 && perCPU.reduce(0, +) == all, "per CPU \(perCPU) vs \(all) (online \(online))")
    }
}
