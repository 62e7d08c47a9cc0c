import Foundation
import Testing

/// `perch record` and `perch report` on real fixtures and the real kernel. Serialized: the
/// known-weight checks need the CPUs to themselves.
@Suite(.serialized) struct RecordEndToEndTests {
    private func output(_ name: String) -> String { Support.workDirectory + "/" + name }

    @Test func knownWeightsProfileWithinTwoPointsOf50_30_20() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("kw.data")
        let result = try Support.perch(["record", "-o", data, "--json", "--children", "--sort", "sym", "--", binary, "300"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONReport(Support.report(ofRecording: result))
        for (symbol, expected) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let share = try #require(report.children(of: symbol), "no entry for \(symbol)")
            #expect(abs(share - expected) <= 2, "\(symbol): \(share)% vs \(expected)%")
        }
        #expect(result.stderr.contains("wrote \(data)"))
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func perfReportReadsPerchFilesAndAgrees() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("kw-perf.data")
        try Support.perch(["record", "-q", "-o", data, "--", binary, "300"])
        let perf = try Support.run("perf", ["report", "-i", data, "--stdio", "--children", "--sort", "sym", "--percent-limit", "5"])
        #expect(perf.status == 0, "\(perf.stderr)")
        for (symbol, expected) in [("work_a", 50.0), ("work_b", 30.0), ("work_c", 20.0)] {
            let line = try #require(perf.stdout.split(separator: "\n").first { $0.hasSuffix("] \(symbol)") && $0.hasPrefix(" ") },
                                    "perf report shows no \(symbol):\n\(perf.stdout.prefix(2000))")
            let children = Double(line.split(separator: " ")[0].dropLast()) ?? -1
            #expect(abs(children - expected) <= 2, "perf says \(symbol) has \(children)%")
        }
        let script = try Support.run("perf", ["script", "-i", data, "-F", "comm,tid,ip,sym"])
        #expect(script.status == 0 && script.stdout.contains("unit"))
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func perchReportReadsPerfRecordFiles() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("by-perf.data")
        let recorded = try Support.run("perf", ["record", "-e", "cpu-clock", "-g", "-o", data, "--", binary, "300"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let result = try Support.perch(["report", "-i", data, "--json", "--children", "--sort", "sym"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONReport(result.stdout)
        let share = try #require(report.children(of: "work_a"))
        #expect(abs(share - 50) <= 2, "work_a: \(share)%")
    }

    @Test func everyThreadShowsUnderItsOwnName() throws {
        let binary = try Support.fixture("threads")
        let result = try Support.perch(["record", "-o", output("threads.data"), "--sort", "comm", "--", binary, "4", "0.5"])
        #expect(result.status == 0, "\(result.stderr)")
        for index in 0..<4 { #expect(Support.report(ofRecording: result).contains("worker-\(index)"), "worker-\(index) missing:\n\(result.stdout)") }
    }

    @Test func forkedAndExecedChildrenShowUnderTheirOwnComm() throws {
        let binary = try Support.fixture("fork_exec")
        let result = try Support.perch(["record", "-o", output("fork.data"), "--json", "--sort", "comm,sym", "--", binary])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONReport(Support.report(ofRecording: result))
        let comms = Set(report.entries.filter { $0["symbol"] as? String == "spin" }.compactMap { $0["comm"] as? String })
        let exeName = "exe"  // the re-exec of /proc/self/exe takes the name of the link
        #expect(comms.isSuperset(of: ["fork_exec", "child-spin", exeName]), "comms with spin: \(comms)")
    }

    @Test func attachingToTwoHundredThreadsSeesAllAndLosesNothing() throws {
        let binary = try Support.fixture("threads")
        let target = Process()
        target.executableURL = URL(fileURLWithPath: binary)
        target.arguments = ["200", "forever"]
        let ready = Pipe()
        target.standardOutput = ready
        try target.run()
        // SIGKILL: the test runner's blocked signal mask is inherited, so SIGTERM may not land.
        defer { kill(target.processIdentifier, SIGKILL); target.waitUntilExit() }
        _ = ready.fileHandleForReading.availableData  // "ready" once every thread started
        usleep(200_000)
        let result = try Support.perch(["record", "-o", output("attach.data"), "-p", "\(target.processIdentifier)",
                                        "--duration", "2", "--json", "--sort", "comm,tid"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONReport(result.stdout)
        let tids = Set(report.entries.compactMap { $0["tid"] as? Int })
        let workers = report.entries.filter { ($0["comm"] as? String)?.hasPrefix("worker-") == true }
        #expect(workers.count == 200, "saw \(workers.count) worker threads (\(tids.count) tids)")
        #expect(report.summary["lostRecords"] as? Int == 0)
    }

    @Test func aCommandThatExitsAtOnceGivesACleanReport() throws {
        let result = try Support.perch(["record", "-o", output("true.data"), "--", "/bin/true"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Support.report(ofRecording: result).contains("# Samples:"))
        let failing = try Support.perch(["record", "-q", "-o", output("false.data"), "--", "/bin/false"])
        #expect(failing.status == 1, "perch exits with the command's status")
    }

    @Test func aCrashingCommandStillGetsItsReportAndItsStatus() throws {
        let binary = try Support.fixture("crash")
        let result = try Support.perch(["record", "-o", output("crash.data"), "--", binary])
        #expect(result.status == 128 + SIGSEGV)
        #expect(result.stderr.contains("killed by signal 11"))
        #expect(Support.report(ofRecording: result).contains("spin_then_crash"), "\(Support.report(ofRecording: result))")
    }

    @Test func aMissingCommandIsOneClearLine() throws {
        let result = try Support.perch(["record", "-o", output("missing.data"), "--", "/no/such/program"])
        #expect(result.status == 127)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("cannot run '/no/such/program'"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output("missing.data")))
    }

    @Test func aDirectoryAsTheCommandIsOneClearLine() throws {
        let result = try Support.perch(["record", "-o", output("directory.data"), "--", "/tmp"])
        #expect(result.status == 126)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasSuffix("cannot run '/tmp': it is a directory"), "\(result.stderr)")
    }

    @Test func ctrlCStopsTheRecordingAndStillWritesTheReport() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("interrupted.data")
        let result = try Support.perch(["record", "-o", data, "--", binary, "100000"]) { process in
            usleep(1_000_000)
            kill(process.processIdentifier, SIGINT)
        }
        #expect(Support.report(ofRecording: result).contains("work_a") || Support.report(ofRecording: result).contains("unit"), "\(Support.report(ofRecording: result))\n\(result.stderr)")
        #expect(result.stderr.contains("wrote \(data)"))
        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0 && report.stdout.contains("unit"))
    }

    @Test func badInputFilesAndArgumentsGiveOneLineErrors() throws {
        let garbage = output("garbage.data")
        try Data("definitely not perf data".utf8).write(to: URL(fileURLWithPath: garbage))
        let report = try Support.perch(["report", "-i", garbage])
        #expect(report.status == 1)
        #expect(report.stderr.split(separator: "\n").count == 1 && report.stderr.contains("not a perf.data file"))
        let missing = try Support.perch(["record", "-p", "999999999", "--duration", "1"])
        #expect(missing.status != 0)
        let badEvent = try Support.perch(["record", "-e", "bogus", "--", "/bin/true"])
        #expect(badEvent.status != 0 && badEvent.stderr.contains("unknown event 'bogus'"))
    }

    @Test func foldedStacksAreWritten() throws {
        let binary = try Support.fixture("known_weights")
        let folded = output("kw.folded")
        let result = try Support.perch(["record", "-q", "-o", output("kw-folded.data"), "--folded", folded, "--", binary, "30"])
        #expect(result.status == 0)
        let text = try String(contentsOfFile: folded, encoding: .utf8)
        #expect(text.split(separator: "\n").contains { $0.contains("main;work_a;unit ") }, "\(text.prefix(500))")
    }

    @Test(.enabled(if: Support.isRoot && Support.commandExists("setpriv"), "needs root to drop privileges"))
    func anUnprivilegedUserProfilesItsOwnProgramUserOnly() throws {
        let binary = try Support.fixture("known_weights")
        let data = output("nobody.data")
        let result = try Support.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                 Support.perch, "record", "-o", data, "--json", "--children", "--sort", "sym", "--", binary, "300"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONReport(Support.report(ofRecording: result))
        let share = try #require(report.children(of: "work_a"))
        #expect(abs(share - 50) <= 2)
        let paranoid = (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if paranoid == "2" {
            #expect(result.stderr.contains("kernel frames left out"), "the degradation is said on stderr")
            #expect((report.summary["notes"] as? [String])?.contains { $0.contains("kernel frames left out") } == true)
        }
    }
}

/// JIT code named through /tmp/perf-PID.map.
@Suite struct JITMapTests {
    #if arch(x86_64)
    @Test func jitFramesAreNamedFromThePerfMap() throws {
        let binary = try Support.fixture("jit", flags: ["-O2"])
        let data = Support.workDirectory + "/jit.data"
        let folded = Support.workDirectory + "/jit.folded"
        let result = try Support.perch(["record", "-o", data, "--folded", folded, "--jit", "--", binary])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Support.report(ofRecording: result).contains("[j] jit_spin"), "\(Support.report(ofRecording: result))")
        let lines = try String(contentsOfFile: folded, encoding: .utf8).split(separator: "\n")
        let jit = lines.filter { $0.contains("jit_spin_[j]") }.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        let total = lines.compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        #expect(total > 0 && Double(jit) / Double(total) > 0.9, "\(jit) of \(total) samples in jit_spin")
        // The fixture leaves its map behind, as JITs do; clean up after it.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? [] where name.hasPrefix("perf-") && name.hasSuffix(".map") {
            if let pid = Int32(name.dropFirst(5).dropLast(4)), kill(pid, 0) != 0 { try? FileManager.default.removeItem(atPath: "/tmp/" + name) }
        }
    }
    #endif
}

/// The recorded command's output is the user's: `perch record -- CMD > out` leaves `out`
/// byte-identical to `CMD > out` (the report goes to stderr when stdout is not a terminal).
@Suite struct RecordedOutputTests {
    @Test(.enabled(if: Support.commandExists("gzip"), "gzip is not installed"))
    func aCompressorsOutputIsUntouched() throws {
        let directory = Support.workDirectory
        let input = "/usr/bin/perl"
        let plain = try Support.run("sh", ["-c", "gzip -c \(input) > \(directory)/plain.gz"])
        #expect(plain.status == 0)
        let recorded = try Support.run("sh", ["-c", "\(Support.perch) record -o \(directory)/gzip.data -- gzip -c \(input) > \(directory)/recorded.gz"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: directory + "/plain.gz"))
        let b = try Data(contentsOf: URL(fileURLWithPath: directory + "/recorded.gz"))
        #expect(a == b, "the recorded command's stdout changed: \(a.count) vs \(b.count) bytes")
        #expect(recorded.stderr.contains("# Perch report"), "the report went to stderr")
        #expect(try Support.run("sh", ["-c", "gzip -t \(directory)/recorded.gz"]).status == 0)
    }
}
