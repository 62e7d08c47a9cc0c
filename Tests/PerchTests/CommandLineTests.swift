import Foundation
import Testing
import TestSupport

/// The command line's contract: bad values are refused while parsing (64, one line), write
/// failures are errors except a closed pipe, and a command perch cannot launch gets the shell's
/// 126 or 127.
@Suite(.serialized) struct CommandLineTests {
    private struct Run {
        var reason: Process.TerminationReason
        var status: Int32
        var stderr: String
        var lines: [Substring] { stderr.split(separator: "\n") }
    }

    /// Runs perch with stdout on `stdout` (stderr collected), not through a pipe we read.
    private func perch(_ arguments: [String], stdout: FileHandle) throws -> Run {
        let outcome = try ProcessRunner.run(Support.perch, arguments, directory: Support.workDirectory, standardOutput: stdout)
        return Run(reason: outcome.reason, status: outcome.status, stderr: outcome.stderr)
    }

    /// A small recording to report on.
    private func recording() throws -> String {
        let data = Support.workDirectory + "/cli-true.data"
        if FileManager.default.fileExists(atPath: data) { return data }
        let recorded = try Support.perch(["record", "-q", "-o", data, "--", "/bin/true"])
        try #require(recorded.status == 0, "\(recorded.stderr)")
        return data
    }

    @Test(arguments: [
        (["record", "-F", "abc", "--", "true"], "-F <freq>"),
        (["record", "-F", "0", "--", "true"], "-F <freq>"),
        (["record", "--call-graph", "bogus", "--", "true"], "--call-graph"),
        (["record", "--call-graph", "dwarf,70000", "--", "true"], "--call-graph"),
        (["record", "-e", "bogus", "--", "true"], "unknown event 'bogus'"),
        (["record", "-m", "3", "--", "true"], "power of two"),
        (["record", "-a", "-C", "3-1"], "bad CPU list '3-1'"),
        (["record", "-p", "12x"], "-p <pid>"),
        (["record", "--duration", "0", "-p", "1"], "--duration"),
        (["record", "--duration", "nan", "-p", "1"], "finite number of seconds"),
        (["record", "--duration", "inf", "-p", "1"], "finite number of seconds"),
        (["record", "-o", "-", "--", "true"], "pipe mode"),
        (["record", "-a", "--cpu=-1"], "bad CPU list '-1'"),
        (["record", "-a", "-C", "0-2147483647"], "does not exist here"),
        (["record", "-m", "4194304", "--", "true"], "at most 1048576 pages"),
        (["record", "-m", "1", "--", "true"], "every sample would be lost"),
        (["record", "-m", "2", "--call-graph", "dwarf", "--", "true"], "every sample would be lost"),
        (["report", "--percent-limit", "nan"], "percentage from 0 to 100"),
        (["report", "--sort", "bogus"], "unknown sort key 'bogus'"),
        (["report", "--pid", "x"], "--pid"),
        (["flamegraph", "--palette", "plaid"], "unknown palette 'plaid'"),
        (["flamegraph", "--width", "10"], "--width"),
    ])
    func aBadOptionValueIsRefusedWhileParsing(arguments: [String], mentions: String) throws {
        // `-i` is never read: a refusal at parse time happens before any input is opened.
        let result = try Support.perch(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(arguments): not one line:\n\(result.stderr)")
        #expect(lines.first?.hasPrefix("perch: error: ") == true, "\(result.stderr)")
        #expect(result.stderr.contains(mentions), "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func aUsageErrorFromValidationIsOneLineToo() throws {
        let result = try Support.perch(["record", "-C", "1", "--", "true"])
        #expect(result.status == 64)
        #expect(result.stderr == "perch: error: -C/--cpu needs -a\n", "\(result.stderr)")
    }

    @Test func aRingThatHoldsOnlyAFewStackCopiesIsWarnedAbout() throws {
        let result = try Support.perch(["record", "-q", "-m", "2", "-o", Support.workDirectory + "/cli-small-ring.data", "--", "/bin/true"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("perch: warning: a ring of 2 pages holds only"), "\(result.stderr)")
    }

    @Test func helpStillGoesToStdoutWithStatusZero() throws {
        let result = try Support.perch(["record", "--help"])
        #expect(result.status == 0 && result.stdout.contains("--call-graph") && result.stderr.isEmpty)
    }

    @Test func aFullDiskIsAnErrorWithOneLine() throws {
        let data = try recording()
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let result = try perch(["report", "-i", data], stdout: full)
        #expect(result.reason == .exit && result.status == 1, "\(result.reason) \(result.status): \(result.stderr)")
        #expect(result.lines.count == 1 && result.stderr.contains("cannot write standard output"), "\(result.stderr)")

        let file = try perch(["report", "-i", data, "--folded", "/dev/full"], stdout: FileHandle.nullDevice)
        #expect(file.status == 1 && file.stderr.contains("cannot write /dev/full"), "\(file.stderr)")
    }

    @Test func aClosedPipeOnStdoutEndsQuietlyWithZero() throws {
        // The reader is gone before perch writes a byte: every write gets EPIPE (as `| head -1` ends).
        let data = try recording()
        for arguments in [["report", "-i", data, "--json"],
                          ["collapse", Support.packageRoot + "/Tests/PerchTests/Data/edge-cases.perf-script"]] {
            let pipe = Pipe()
            try pipe.fileHandleForReading.close()
            let result = try perch(arguments, stdout: pipe.fileHandleForWriting)
            #expect(result.reason == .exit && result.status == 0, "\(arguments): \(result.reason) \(result.status): \(result.stderr)")
            #expect(!result.stderr.contains("perch: error"), "\(result.stderr)")
        }
        // perch record still exits with the recorded command's status when its report meets a closed pipe.
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        let record = try perch(["record", "-o", Support.workDirectory + "/cli-pipe.data", "--json", "--", "/bin/sh", "-c", "exit 5"],
                               stdout: pipe.fileHandleForWriting)
        #expect(record.reason == .exit && record.status == 5, "\(record.reason) \(record.status): \(record.stderr)")
    }

    @Test func aCommandThatCannotBeExecutedIs126AndAMissingOneIs127() throws {
        let notExecutable = try Support.perch(["record", "-o", Support.workDirectory + "/cli-126.data", "--", "/etc/passwd"])
        #expect(notExecutable.status == 126, "\(notExecutable.stderr)")
        #expect(notExecutable.stderr == "perch: error: cannot run '/etc/passwd': Permission denied\n", "\(notExecutable.stderr)")

        let missing = try Support.perch(["record", "-o", Support.workDirectory + "/cli-127.data", "--", "no-such-command-\(getpid())"])
        #expect(missing.status == 127, "\(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1 && missing.stderr.contains("No such file or directory"), "\(missing.stderr)")
    }

    @Test func theRecordedCommandsStatusIsPassedThroughWithoutAnError() throws {
        let result = try Support.perch(["record", "-q", "-o", Support.workDirectory + "/cli-exit.data", "--", "/bin/sh", "-c", "exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(!result.stderr.contains("perch: error"), "\(result.stderr)")
    }
}

/// `perch symbolize` on a binary whose only DWARF is a data-only unit aborted with a double free.
@Suite struct DataOnlyDWARFEndToEndTests {
    @Test func symbolizeNamesTheFunction() throws {
        let dir = try makeTemporaryDirectory(prefix: "perch-dataonly", containing: [
            "spin.c": "__attribute__((noinline)) int spin(int n) { extern int table[]; int s = 0; for (int i = 0; i < n; i++) s += table[i % 4]; return s; }\nint main(int c, char **v) { (void)v; return spin(c) & 1; }\n",
            "data.c": "int table[4] = {1, 2, 3, 4};\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ProcessRunner.output(["sh", "-c", "gcc -O1 -c spin.c && gcc -g -O1 -c data.c && gcc -o mixed spin.o data.o"], directory: dir)
        let nm = try ProcessRunner.output(["nm", dir + "/mixed"])
        let line = try #require(nm.split(separator: "\n").first { $0.hasSuffix(" T spin") })
        let address = "0x" + line.prefix { $0 != " " }
        let result = try Support.perch(["symbolize", "-e", dir + "/mixed", address])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("spin\n"))
        let piped = try Support.run("sh", ["-c", "echo \(address) | \(Support.perch) symbolize -e \(dir)/mixed"])
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout.hasPrefix("spin\n"))
    }
}
