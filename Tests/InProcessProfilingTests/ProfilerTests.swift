import Foundation
import InProcessProfiling
import ProfileModel
import Testing
import TestSupport

/// The in-process profiler on this machine's kernel: a 5:3:2 split of identical work, run on two
/// threads inside the test process, must come out 50:30:20 within 3 points with either mechanism.
@Suite("Profiler", .serialized)
struct ProfilerTests {
    @Test("perf_event_open: a 5:3:2 split comes out within 3 points", .timeLimit(.minutes(2)))
    func perfEventsSplit() throws {
        var options = Profiler.Options()
        options.mechanism = .perfEvents
        let cpu = processCPUSeconds()
        let result = try Profiler.profile(options: options) { FiveThreeTwo.run(seconds: 2) }
        print("perf_event_open: \(processCPUSeconds() - cpu) CPU-s in the process")
        #expect(result.mechanism == .perfEvents)
        #expect(result.notes.contains { $0.kind == .profilingMechanism && $0.text.contains("perf_event_open") })
        try expectFiveThreeTwo(result)
    }

    @Test("The in-process sampler, forced: a 5:3:2 split comes out within 3 points", .timeLimit(.minutes(2)))
    func signalSamplerSplit() throws {
        var options = Profiler.Options()
        options.mechanism = .signals
        let cpu = processCPUSeconds()
        let result = try Profiler.profile(options: options) { FiveThreeTwo.run(seconds: 3, threads: 4) }
        print("signals: \(processCPUSeconds() - cpu) CPU-s in the process")
        #expect(result.mechanism == .signals)
        #expect(result.notes.contains { $0.kind == .profilingMechanism && $0.text.contains("CPU-time timers") })
        try expectFiveThreeTwo(result)
    }

    @Test("perf_event_open follows forked children through inherit; their samples are left out of the profile", .timeLimit(.minutes(2)))
    func childProcessesAreLeftOut() throws {
        var options = Profiler.Options()
        options.mechanism = .perfEvents
        let result = try Profiler.profile(options: options) {
            try ProcessRunner.output(["/bin/sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"])
            FiveThreeTwo.run(seconds: 0.3)
        }
        let data = try result.bytes(.perfData)
        let path = TestPaths.scratchDirectory + "/children.data"
        try Data(data).write(to: URL(fileURLWithPath: path))
        // The recording holds the shell's samples (inherit follows fork) ...
        let report = try ProcessRunner.output([Self.perch, "report", "-i", path, "--sort", "comm"])
        #expect(report.contains(" sh"), "\(report)")
        // ... and the profile only this process's.
        let used = Set(result.profile.stacks.map { result.profile.threadOrUnknown($0.thread).pid })
        #expect(used == [getpid()])
        #expect(FiveThreeTwo.shares(in: result.profile).samples > 0)
    }

    @Test("Every format is written, and perch report reads the sampler's perf.data with its note", .timeLimit(.minutes(2)))
    func everyFormat() throws {
        var options = Profiler.Options()
        options.mechanism = .signals
        let result = try Profiler.profile(options: options) { FiveThreeTwo.run(seconds: 0.5) }
        let directory = try makeTemporaryDirectory(prefix: "perch-profiler")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for format in ProfileFormat.allCases {
            try result.write(format, to: directory + "/out.\(format)".replacingOccurrences(of: " ", with: "-"))
        }
        func read(_ format: ProfileFormat) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: directory + "/out.\(format)".replacingOccurrences(of: " ", with: "-")))
        }
        let total = result.profile.totalSamples
        #expect(total > 0)
        let folded = String(decoding: try read(.folded), as: UTF8.self)
        let foldedTotal = folded.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { UInt64($0) } }.reduce(0, +)
        #expect(foldedTotal == total)
        #expect(folded.contains("fiveUnits"))
        let svg = String(decoding: try read(.flameGraph), as: UTF8.self)
        #expect(svg.contains("<svg") && svg.contains("fiveUnits"))
        let pprof = try read(.pprof)
        #expect(pprof.prefix(2) == Data([0x1f, 0x8b]))
        let speedscope = try JSONSerialization.jsonObject(with: try read(.speedscope)) as? [String: Any]
        #expect(speedscope?["$schema"] as? String == "https://www.speedscope.app/file-format-schema.json")
        let perfData = try read(.perfData)
        #expect(perfData.prefix(8) == Data("PERFILE2".utf8))
        let report = try ProcessRunner.output([Self.perch, "report", "-i", directory + "/out.perf.data"])
        #expect(report.contains("# Note: sampled in-process with per-thread CPU-time timers"), "\(report)")
        #expect(report.contains("# Samples: \(result.profile.summary.sampleCount)"), "\(report)")
        #expect(report.contains("workUnit"))
    }

    /// The `perch` built beside the tests.
    static let perch: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("perch").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return TestPaths.packageRoot + "/.build/debug/perch"
    }()

    private func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private func expectFiveThreeTwo(_ result: InProcessProfile) throws {
        let shares = FiveThreeTwo.shares(in: result.profile)
        print("\(result.mechanism.rawValue): \(shares.samples) samples, five \(shares.five)% three \(shares.three)% two \(shares.two)%")
        #expect(shares.samples >= 500)
        #expect(abs(shares.five - 50) <= 3)
        #expect(abs(shares.three - 30) <= 3)
        #expect(abs(shares.two - 20) <= 3)
    }
}

/// The probe executable (built beside the tests) profiles a 5:3:2 split inside itself; run under
/// `Fixtures/seccomp_deny.c`, perf_event_open fails with EPERM as in a container.
@Suite("Profiler under seccomp", .serialized)
struct ProfilerSeccompTests {
    @Test("Under a seccomp filter denying perf_event_open the profiler falls back by itself and still gets 5:3:2", .timeLimit(.minutes(3)))
    func seccompFallsBack() throws {
        let deny = try CCompiler.fixture("seccomp_deny", flags: ["-O2"])
        let svg = TestPaths.scratchDirectory + "/seccomp-probe.svg"
        let outcome = try ProcessRunner.run(deny, [Self.probe, "automatic", "3", svg])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let line = try #require(outcome.stdout.split(separator: "\n").first { $0.hasPrefix("mechanism=") })
        print(line)
        #expect(line.hasPrefix("mechanism=in-process CPU-time timers "))
        #expect(outcome.stdout.contains("perf_event_open was refused"))
        let shares = Self.shares(String(line))
        #expect((shares["samples"] ?? 0) >= 500)
        #expect(abs((shares["five"] ?? 0) - 50) <= 3)
        #expect(abs((shares["three"] ?? 0) - 30) <= 3)
        #expect(abs((shares["two"] ?? 0) - 20) <= 3)
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.contains("<svg") && picture.contains("fiveUnits"))
    }

    @Test("Under the same filter, perf_event_open forced is a clear error")
    func seccompRefusesForcedPerfEvents() throws {
        let deny = try CCompiler.fixture("seccomp_deny", flags: ["-O2"])
        let outcome = try ProcessRunner.run(deny, [Self.probe, "perf", "0.1"])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("perf_event_open is not available"), "\(outcome.stderr)")
    }

    /// `key=value` pairs of the probe's result line (the mechanism's value has spaces; it is skipped).
    static func shares(_ line: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for field in line.split(separator: " ") {
            let parts = field.split(separator: "=")
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    /// The probe built beside the test bundle.
    static let probe: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("InProcessProfilerProbe").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return TestPaths.packageRoot + "/.build/debug/InProcessProfilerProbe"
    }()
}
