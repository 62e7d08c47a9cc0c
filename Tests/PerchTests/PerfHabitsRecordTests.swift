import Foundation
import Testing

/// `perch record` as a perf user types it: unknown options are usage errors (not the command),
/// the command starts at its first word or after `--`, perf's flags mean what they mean in perf
/// or are refused with the reason, notes come before the command's output, and the status line
/// never shares a line with that output.
@Suite(.serialized) struct PerfHabitsRecordTests {
    private func data(_ name: String) -> String { Support.workDirectory + "/habits-record-\(name).data" }

    /// One `perch: error:` line, exit 64, nothing on stdout.
    private func expectUsageError(_ arguments: [String], naming text: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try Support.perch(arguments)
        #expect(result.status == 64, "\(arguments): \(result.status) \(result.stderr)", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("perch: error: ") && lines[0].contains(text),
                "\(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func anUnknownOptionIsAUsageErrorNotTheCommand() throws {
        try expectUsageError(["record", "--bogus", "--", "true"], naming: "'--bogus'")
        try expectUsageError(["record", "-o", data("bogus"), "--bogus=3", "true"], naming: "'--bogus'")
        try expectUsageError(["sched", "record", "--bogus", "--", "true"], naming: "'--bogus'")
        #expect(!FileManager.default.fileExists(atPath: data("bogus")))
    }

    /// Every subcommand: an unknown option is one line naming it, exit 64.
    @Test(arguments: [["report"], ["collapse"], ["flamegraph"], ["diff", "a.folded", "b.folded"], ["doctor"], ["sched", "report"], ["sched"],
                      ["symbolize", "--exe", "/bin/true"], [], ["record", "-q"], ["record", "-o", "/tmp/perch-habits-x.data"]])
    func anUnknownOptionIsAUsageErrorOnEverySubcommand(_ command: [String]) throws {
        try expectUsageError(command + ["--bogus-option"], naming: "'--bogus-option'")
    }

    @Test func whatFollowsDashDashIsTheCommandEvenWithADash() throws {
        for prefix in [["record"], ["sched", "record"]] {
            let result = try Support.perch(prefix + ["-o", data("weird"), "--", "--weird-cmd"])
            #expect(result.status == 127, "\(prefix): \(result.stderr)")
            #expect(result.stderr == "perch: error: cannot run '--weird-cmd': No such file or directory\n", "\(result.stderr)")
        }
    }

    @Test func theCommandStartsAtItsFirstWordAndKeepsItsOptions() throws {
        let plain = try Support.perch(["record", "-q", "-o", data("true"), "true"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(FileManager.default.fileExists(atPath: data("true")))
        // -la is ls's: the long listing of a directory with a known file in it.
        let directory = Support.workDirectory + "/habits-ls"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/.hidden-file", contents: Data("x".utf8))
        let listed = try Support.perch(["record", "-q", "-o", data("ls"), "ls", "-la", directory])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.hasPrefix("total "), "\(listed.stdout)")
        #expect(listed.stdout.contains(".hidden-file") && listed.stdout.contains(" .."), "\(listed.stdout)")
        // The command's failure is its status, its options still its own.
        let failed = try Support.perch(["record", "-q", "-o", data("ls-fail"), "ls", "-la", directory + "/none"])
        #expect(failed.status == 2 && failed.stderr.contains("ls: cannot access"), "\(failed.stderr)")
    }

    @Test func perfRecordFlagsAreAcceptedOrRefusedWithTheReason() throws {
        let binary = try Support.fixture("known_weights")
        // -T (Perch always records time) and -N (no build-id cache to skip) are accepted.
        let accepted = try Support.perch(["record", "-q", "-T", "-N", "--no-buildid-cache", "--timestamp", "-o", data("tn"), "--", binary, "3"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let report = try Support.perch(["report", "-i", data("tn"), "--sort", "sym", "-q"])
        #expect(report.stdout.contains("[.] unit"), "\(report.stdout)")
        // The header shows the samples carry their time.
        let header = try Support.perch(["report", "-i", data("tn"), "--header-only"]).stdout
        #expect(header.contains("|TIME|"), "\(header)")

        // -s is the printed report's sort (the report goes to stderr: stdout is not a terminal).
        let sorted = try Support.perch(["record", "-s", "sym", "-o", data("sorted"), "--", binary, "3"])
        #expect(sorted.status == 0, "\(sorted.stderr)")
        #expect(Support.report(ofRecording: sorted).contains("# Overhead  Symbol\n"), "\(sorted.stderr)")

        try expectUsageError(["record", "-z", "--", "true"], naming: "does not compress")
        try expectUsageError(["record", "--compression-level=3", "--", "true"], naming: "does not compress")
        try expectUsageError(["record", "--stat", "--", "true"], naming: "per-thread")
        try expectUsageError(["record", "-F", "-5", "--", "true"], naming: "positive whole number")
        try expectUsageError(["record", "-c", "-3", "--", "true"], naming: "positive whole number")
        try expectUsageError(["record", "--all-kernel", "--all-user", "--", "true"], naming: "exclude each other")
    }

    /// perf record options Perch lacks: one line naming the option, why, and what to use.
    @Test(arguments: [["-b"], ["-j", "any"], ["-d"], ["-i"], ["--no-inherit"], ["-n"], ["-D", "100"], ["--per-thread"],
                      ["-R"], ["-W"], ["-k", "mono"], ["--off-cpu"], ["-v"], ["--max-size=10M"], ["--user-regs=ip"]])
    func perfRecordOptionsPerchLacksSayWhy(_ option: [String]) throws {
        try expectUsageError(["record"] + option + ["-o", data("lacks"), "--", "true"], naming: "perf record's \(option[0].split(separator: "=")[0]) is not in Perch: ")
        #expect(!FileManager.default.fileExists(atPath: data("lacks")))
    }

    @Test func perfRecordsDashPIsAcceptedThePeriodIsAlwaysRecorded() throws {
        let result = try Support.perch(["record", "-q", "-P", "-o", data("period"), "--", "true"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Support.perch(["report", "-i", data("period"), "--header-only"]).stdout.contains("|PERIOD|"))
    }

    @Test(.enabled(if: Support.isRoot, "samples the kernel as root"))
    func allKernelSamplesOnlyTheKernel() throws {
        // Reading /proc spends its time in the kernel; the user-space loop around it too is left out.
        let result = try Support.perch(["record", "-q", "--all-kernel", "-o", data("kernel"), "--",
                                        "sh", "-c", "for i in $(seq 1500); do cat /proc/self/stat > /dev/null; done"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try Support.perch(["report", "-i", data("kernel"), "--sort", "sym", "-q"]).stdout
        let entries = report.split(separator: "\n").filter { $0.contains("%") }
        #expect(entries.count > 5, "\(report)")
        #expect(entries.allSatisfy { $0.contains("[k] ") }, "\(report)")
        let header = try Support.perch(["report", "-i", data("kernel"), "--header-only"]).stdout
        #expect(header.contains("exclude_user = 1"), "\(header)")
        // Without it the same work has user frames.
        let both = try Support.perch(["record", "-q", "-o", data("both"), "--",
                                      "sh", "-c", "for i in $(seq 1500); do cat /proc/self/stat > /dev/null; done"])
        #expect(both.status == 0)
        #expect(try Support.perch(["report", "-i", data("both"), "--sort", "sym", "-q"]).stdout.contains("[.] "))
    }

    /// At kernel.perf_event_paranoid 2 (the default this machine is left at) a user without
    /// CAP_PERFMON may not sample the kernel: --all-kernel is refused with the reason, not run empty.
    @Test(.enabled(if: Support.isRoot && Support.commandExists("setpriv"), "needs root and setpriv"))
    func allKernelIsRefusedWhereKernelSamplingIsNot() throws {
        let paranoid = try String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(paranoid == "2", "kernel.perf_event_paranoid is \(paranoid), not 2")
        let result = try Support.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                  Support.perch, "record", "--all-kernel", "-o", "/tmp/perch-habits-nobody.data", "--", "true"])
        #expect(result.status == 77, "\(result.status) \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("--all-kernel samples only the kernel")
                && lines[0].contains("perf_event_paranoid=2"), "\(result.stderr)")
    }

    /// The planner's notes (here the cycles → cpu-clock fallback of a machine without a PMU) are
    /// printed before the command runs: before its first line on the same stream.
    @Test func planningNotesComeBeforeTheCommandsOutput() throws {
        let result = try Support.run("sh", ["-c", "\"$0\" record -o \"$1\" -e cycles -- sh -c 'echo COMMAND-OUTPUT >&2' 2>&1", Support.perch, data("notes")])
        #expect(result.status == 0, "\(result.stdout)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let note = lines.firstIndex { $0.hasPrefix("perch: note: hardware event 'cycles'") }
        try #require(note != nil, "this machine has a PMU: no fallback note: \(result.stdout)")
        let output = try #require(lines.firstIndex(of: "COMMAND-OUTPUT"), "\(result.stdout)")
        #expect(note! < output, "\(result.stdout)")
        // Said once, not again after the run.
        #expect(lines.filter { $0.hasPrefix("perch: note: hardware event 'cycles'") }.count == 1, "\(result.stdout)")
    }

    /// In a real terminal (tmux), the status line is drawn on the bottom row, out of the scrolling
    /// region: each line the command prints is on a line of its own, with nothing glued to it.
    @Test(.enabled(if: Support.commandExists("tmux"), "needs tmux"))
    func theStatusLineNeverSharesALineWithTheCommandsOutput() throws {
        let session = "perch-status-\(getpid())"
        let script = "cd \(Support.workDirectory) && \(Support.perch) record --no-report -o \(data("status")) -- sh -c 'for i in 1 2 3; do echo line$i; sleep 1; done'; echo FINISHED; sleep 20"
        // The tmux server outlives the client and keeps the descriptors it inherited, among them
        // those Foundation watches to see its child exit: bash closes every one above 2 first.
        let launch = """
            for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done
            exec tmux new-session -d -s "$0" -x 120 -y 30 "$1" </dev/null >/dev/null 2>&1
            """
        let launched = Date()
        let started = try Support.run("bash", ["-c", launch, session, script])
        try #require(started.status == 0, "\(started.stderr)")
        try #require(Date().timeIntervalSince(launched) < 5, "tmux new-session waited \(Date().timeIntervalSince(launched)) s")
        defer { _ = try? Support.run("tmux", ["kill-session", "-t", session]) }
        func pane() throws -> [String] {
            let capture = try Support.run("tmux", ["capture-pane", "-p", "-t", session])
            return (capture.stdout + capture.stderr).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        // While it records: the status is on the bottom row, the lines printed so far clean.
        Thread.sleep(forTimeInterval: 1.7)
        let during = try pane()
        #expect(during.count >= 30 && during[29].hasPrefix("[perch] ") && during[29].contains(" samples"), "\(during)")
        #expect(during.contains("line1") && during.contains("line2"), "\(during)")
        var after: [String] = []
        for _ in 0..<40 {
            Thread.sleep(forTimeInterval: 0.25)
            after = try pane()
            if after.contains("FINISHED") { break }
        }
        #expect(after.contains("FINISHED"), "\(after)")
        for line in ["line1", "line2", "line3"] {
            #expect(after.contains(line), "\(line) is not on a line of its own: \(after)")
        }
        // Erased at the end: no status text is left anywhere.
        #expect(!after.contains { $0.contains("[perch]") }, "\(after)")
        #expect(after.contains { $0.hasPrefix("perch: wrote ") }, "\(after)")
    }
}
