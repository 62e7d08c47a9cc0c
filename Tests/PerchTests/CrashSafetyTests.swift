import Foundation
import Testing
import TestSupport

/// Never the thing that breaks: a killed recorder (Perch's or perf's) leaves a file both tools
/// read, a full disk keeps what fit, Perch's own interruption is told apart from the command's,
/// and the output never replaces a file it should not.
@Suite(.serialized) struct CrashSafetyTests {
    /// A workload far longer than any test waits for.
    private static let longRounds = "100000"

    private func path(_ name: String) -> String { Support.workDirectory + "/crashsafe-" + name }

    /// The children of `pid`, from /proc (the workload a killed recorder leaves running).
    private static func children(of pid: Int32) -> [Int32] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Runs `program` and sends it `signal` after `seconds`; a SIGKILL also kills the
    /// workload it leaves behind.
    private func run(_ program: String, _ arguments: [String], signal: Int32, after seconds: Double) throws -> ProcessOutcome {
        try Support.run(program, arguments) { process in
            Thread.sleep(forTimeInterval: seconds)
            let pid = process.processIdentifier
            let orphans = signal == SIGKILL ? Self.children(of: pid) : []
            kill(pid, signal)
            for orphan in orphans { kill(orphan, SIGKILL) }
        }
    }

    private func samples(in report: String) -> Int {
        guard let line = report.split(separator: "\n").first(where: { $0.hasPrefix("# Samples: ") }),
              let count = line.dropFirst("# Samples: ".count).split(separator: " ").first else { return 0 }
        return Int(count) ?? 0
    }

    @Test(.enabled(if: Support.isRoot && Support.commandExists("perf"), "needs root and perf"))
    func aKilledRecordingIsReadByPerchAndPerfUpToItsLastRound() throws {
        let binary = try Support.fixture("known_weights")
        let data = path("killed.data")
        try? FileManager.default.removeItem(atPath: data)
        let killed = try run(Support.perch, ["record", "-q", "-o", data, "--", binary, Self.longRounds], signal: SIGKILL, after: 2)
        #expect(killed.reason == .uncaughtSignal)

        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(samples(in: report.stdout) > 0, "\(report.stdout)")
        #expect(report.stdout.contains("# Note: the recording was cut short"), "\(report.stdout)")
        let json = try Support.perch(["report", "-i", data, "--json"])
        #expect(json.stdout.contains("the recording was cut short"), "\(json.stdout.prefix(2000))")

        let perf = try Support.run("perf", ["report", "-i", data, "--stdio"])
        #expect(perf.status == 0, "\(perf.stderr)")
        #expect(perf.stdout.contains("# Samples: ") && perf.stdout.contains("unit"), "\(perf.stdout.prefix(2000))\n\(perf.stderr)")
    }

    @Test(.enabled(if: Support.isRoot && Support.commandExists("perf"), "needs root and perf"))
    func aKilledPerfRecordIsReadToTheEndOfTheFile() throws {
        let binary = try Support.fixture("known_weights")
        let data = path("perf-killed.data")
        try? FileManager.default.removeItem(atPath: data)
        // Small rings: perf writes a ring out each time it is half full.
        _ = try run("perf", ["record", "-q", "-m", "4", "-o", data, "--", binary, Self.longRounds], signal: SIGKILL, after: 1)

        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(samples(in: report.stdout) > 0, "\(report.stdout)")
        #expect(report.stdout.contains("its header counts no data"), "\(report.stdout)")
    }

    @Test(.enabled(if: Support.isRoot, "mounting a tmpfs needs root"))
    func aFullDiskStopsTheRecordingKeepsWhatFitAndExitsWithTheCommandsStatus() throws {
        let binary = try Support.fixture("known_weights")
        let mount = path("tmpfs")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try Support.run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mount])
        try #require(mounted.status == 0, "\(mounted.stderr)")
        defer { _ = try? Support.run("umount", [mount]) }
        let data = mount + "/perch.data"

        // DWARF stack copies: about 20 MB a second at 4000 Hz, so 2 MiB fill in a fraction of the run.
        let result = try Support.perch(["record", "-o", data, "--no-report", "--", "sh", "-c", "\(binary) 100; exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("perch: error: ") }
        #expect(errors.count == 1 && errors[0].contains("No space left on device") && errors[0].contains("keeps what was written"),
                "\(result.stderr)")

        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(samples(in: report.stdout) > 0, "\(report.stdout)")
        #expect(report.stdout.contains("the recording was cut short"), "\(report.stdout)")
    }

    @Test func anExistingOutputIsKeptAsOldAndTheNewOneIs0600() throws {
        let data = path("kept.data")
        try? FileManager.default.removeItem(atPath: data + ".old")
        try Data("previous".utf8).write(to: URL(fileURLWithPath: data))
        let result = try Support.perch(["record", "-q", "-o", data, "--", "/bin/true"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: data + ".old", encoding: .utf8) == "previous")
        let attributes = try FileManager.default.attributesOfItem(atPath: data)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try Support.perch(["report", "-i", data]).status == 0)
    }

    @Test func aSymlinkPlantedAtAnOutputIsNeverFollowed() throws {
        let victim = path("victim")
        let link = path("planted.data")
        try Data("untouched".utf8).write(to: URL(fileURLWithPath: victim))
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)

        let record = try Support.perch(["record", "-q", "-o", link, "--", "/bin/true"])
        #expect(record.status != 0 && record.stderr.contains(link), "\(record.stderr)")

        let data = path("for-symlink.data")
        try #require(try Support.perch(["record", "-q", "-o", data, "--", "/bin/true"]).status == 0)
        let report = try Support.perch(["report", "-i", data, "--folded", link])
        #expect(report.status == 1 && report.stderr.contains("cannot write \(link)"), "\(report.stderr)")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "untouched")
    }

    @Test(arguments: [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGHUP, "SIGHUP")])
    func aSignalToPerchStopsTheRecordingWritesItAndSaysPerchWasInterrupted(signal: Int32, name: String) throws {
        let binary = try Support.fixture("known_weights")
        let data = path("signal-\(name).data")
        let result = try run(Support.perch, ["record", "-o", data, "--", binary, Self.longRounds], signal: signal, after: 1.5)
        #expect(result.reason == .exit && result.status == 128 + signal, "\(result.reason) \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("perch: interrupted by \(name)"), "\(result.stderr)")
        #expect(!result.stderr.contains("the command was killed"), "\(result.stderr)")
        #expect(samples(in: Support.report(ofRecording: result)) > 0, "\(result.stderr.prefix(1000))")
        #expect(try Support.perch(["report", "-i", data]).stdout.contains("# Samples: "))
    }

    /// `timeout -s INT` signals its child and then its whole process group: Perch gets the signal
    /// twice. Once the second came after the recording had stopped and killed Perch before its
    /// report (`perch top` exited 130 with nothing printed). Here the second comes while the report
    /// is being written for certain: stderr is a one-page pipe the test stops reading at
    /// "perch: wrote", so Perch blocks writing the report. A third signal ends Perch at once.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3"))
    func aSecondStopSignalDuringTheReportDoesNotLoseItAndAThirdEndsPerch() throws {
        // Python's many functions make a report of tens of KiB.
        let script = "import json, re\nwhile True:\n    json.loads(json.dumps([1, 2, {'b': 'x' * 50}] * 20)); re.sub('a+', 'b', 'aaa b ' * 30)\n"
        for signals in [2, 3] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Support.perch)
            process.arguments = ["record", "-o", path("twice-\(signals).data"), "--", "/usr/bin/python3", "-c", script]
            let stderr = Pipe()
            _ = fcntl(stderr.fileHandleForWriting.fileDescriptor, 1031, 4096)  // F_SETPIPE_SZ
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: 1.5)
            kill(process.processIdentifier, SIGINT)
            var text = Data()
            while !String(decoding: text, as: UTF8.self).contains("perch: wrote") {
                let chunk = stderr.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += chunk
            }
            Thread.sleep(forTimeInterval: 0.2)  // blocked on the full pipe by now
            for _ in 1..<signals {  // apart: a signal sent while the same one is pending merges with it
                kill(process.processIdentifier, SIGINT)
                Thread.sleep(forTimeInterval: 0.1)
            }
            text += stderr.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let output = String(decoding: text, as: UTF8.self)
            let report = output.split(separator: "\n").filter { !$0.hasPrefix("perch: ") }.joined(separator: "\n")
            if signals == 2 {
                #expect(process.terminationReason == .exit && process.terminationStatus == 128 + SIGINT,
                        "\(process.terminationReason) \(process.terminationStatus)")
                #expect(output.contains("perch: interrupted by SIGINT") && samples(in: report) > 0, "\(output.suffix(1500))")
                #expect(report.utf8.count > 8192, "the report must outgrow the pipe to test this: \(report.utf8.count) bytes")
            } else {
                #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGINT,
                        "\(process.terminationReason) \(process.terminationStatus): \(output.suffix(500))")
            }
        }
    }

    @Test func anUnwritableReportFileIsFoundBeforeTheCommandRuns() throws {
        let marker = path("ran-marker")
        try? FileManager.default.removeItem(atPath: marker)
        let result = try Support.perch(["record", "-q", "-o", path("unwritable.data"), "--flamegraph", "/no/such/dir/x.svg",
                                        "--", "/bin/sh", "-c", "touch \(marker)"])
        #expect(result.status == 1 && result.stderr.contains("cannot write /no/such/dir/x.svg"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command ran before the output was checked")
    }
}
