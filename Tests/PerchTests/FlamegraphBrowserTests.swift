import Foundation
import Testing

/// Flame graphs, speedscope and pprof from real recordings: the SVG driven in headless Chromium
/// (Scripts/setup-browser-tests.sh installs chromium, chromium-driver and selenium), the other
/// formats checked against their schemas with Python.
@Suite(.serialized) struct FlamegraphBrowserTests {
    static let data = Support.packageRoot + "/Tests/PerchTests/Data/"

    static var artifacts: String {
        let path = ProcessInfo.processInfo.environment["PERCH_ARTIFACTS"] ?? (Support.workDirectory + "/artifacts")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let browserReady: Bool = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
        && (try? Support.run("python3", ["-c", "import selenium"]))?.status == 0

    static let protobufReady: Bool = (try? Support.run("python3", ["-c", "import google.protobuf"]))?.status == 0

    /// Records the known-weights fixture once, with every output file.
    static let recording: (data: String, svg: String, speedscope: String, pprof: String, samples: Int)? = {
        guard let binary = try? Support.fixture("known_weights") else { return nil }
        let dir = Support.workDirectory
        let data = dir + "/fg-kw.data"
        guard let result = try? Support.perch(["record", "-q", "-o", data, "--", binary, "300"]), result.status == 0,
              let report = try? Support.perch(["report", "-i", data, "--json", "--flamegraph", dir + "/fg-kw.svg",
                                                "--speedscope", dir + "/fg-kw.speedscope.json", "--pprof", dir + "/fg-kw.pb.gz",
                                                "--title", "Known weights", "--subtitle", "5:3:2"]),
              report.status == 0,
              let object = try? JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any],
              let summary = object["summary"] as? [String: Any], let samples = summary["totalSamples"] as? Int
        else { return nil }
        return (data, dir + "/fg-kw.svg", dir + "/fg-kw.speedscope.json", dir + "/fg-kw.pb.gz", samples)
    }()

    @Test func reportWritesASelfContainedFlameGraph() throws {
        let r = try #require(Self.recording, "recording the fixture failed")
        let svg = try String(contentsOfFile: r.svg, encoding: .utf8)
        #expect(svg.contains(">Known weights</text>") && svg.contains(">5:3:2</text>"))
        #expect(svg.contains("<script") && svg.contains("<style"))
        #expect(!svg.contains("xlink:href=\"http") && !svg.contains("src=\""), "no external resources")
        for name in ["main", "work_a", "work_b", "work_c", "unit"] { #expect(svg.contains("<title>\(name) ("), "\(name)") }
    }

    @Test(.enabled(if: browserReady, "chromium, chromium-driver or selenium missing: run Scripts/setup-browser-tests.sh"))
    func browserSearchZoomAndReset() throws {
        let r = try #require(Self.recording, "recording the fixture failed")
        let screenshot = Self.artifacts + "/flamegraph-known-weights.png"
        let result = try Support.run("python3", [
            Support.packageRoot + "/Tests/PerchTests/Browser/flamegraph_test.py", r.svg, "work_a", "50", "2", screenshot,
        ])
        print(result.stdout)
        print("flame graph screenshot: \(screenshot)")
        if result.status == 77 {
            print("skipped: \(result.stdout)")
            return
        }
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: screenshot))
    }

    @Test(.enabled(if: protobufReady, "python3 protobuf package missing: run Scripts/setup-browser-tests.sh"))
    func pprofParsesWithProfileProtoAndSumsToTheSampleCount() throws {
        let r = try #require(Self.recording, "recording the fixture failed")
        let check = try Support.run("python3", [Self.data + "check_formats.py", "pprof", r.pprof, "\(r.samples)"])
        print(check.stdout)
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
        let gzip = try Support.run("gzip", ["-t", r.pprof])
        #expect(gzip.status == 0, "gzip -t: \(gzip.stderr)")
    }

    @Test func speedscopeMatchesTheFileFormatSchema() throws {
        let r = try #require(Self.recording, "recording the fixture failed")
        let check = try Support.run("python3", [Self.data + "check_formats.py", "speedscope", r.speedscope, "\(r.samples)", "-1"])
        print(check.stdout)
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
    }

    @Test func flamegraphCommandFromFoldedAndFromARecording() throws {
        let folded = Support.workDirectory + "/fg.folded"
        try "app;main;work_a;unit 50\napp;main;work_b;unit 30\napp;main;work_c;unit 20\n".write(toFile: folded, atomically: true, encoding: .utf8)
        let out = Support.workDirectory + "/fg-folded.svg"
        let result = try Support.perch(["flamegraph", folded, "-o", out, "--inverted", "--palette", "kind", "--width", "800"])
        #expect(result.status == 0, "\(result.stderr)")
        let svg = try String(contentsOfFile: out, encoding: .utf8)
        #expect(svg.contains(">Icicle Graph</text>") && svg.contains("width=\"800\""))
        #expect(svg.contains("<title>work_a (50 samples, 50.00%)</title>"))
        let stdin = try Support.run("sh", ["-c", "\(Support.perch) flamegraph --reverse < \(folded)"])
        #expect(stdin.status == 0 && stdin.stdout.contains("<title>unit (100 samples, 100.00%)</title>"))
        let bad = try Support.run("sh", ["-c", "echo 'a;b x' | \(Support.perch) flamegraph"])
        #expect(bad.status == 1 && bad.stderr.contains("line 1"))

        let r = try #require(Self.recording, "recording the fixture failed")
        let fromData = try Support.perch(["flamegraph", r.data, "--pid", "-o", Support.workDirectory + "/fg-data.svg"])
        #expect(fromData.status == 0, "\(fromData.stderr)")
    }

    @Test func diffOfTwoFoldedFilesAndTwoRecordings() throws {
        let before = Support.workDirectory + "/before.folded", after = Support.workDirectory + "/after.folded"
        try "app;main;a 50\napp;main;b 50\n".write(toFile: before, atomically: true, encoding: .utf8)
        try "app;main;a 300\napp;main;b 100\n".write(toFile: after, atomically: true, encoding: .utf8)
        let out = Support.workDirectory + "/diff.svg"
        let result = try Support.perch(["diff", before, after, "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        let svg = try String(contentsOfFile: out, encoding: .utf8)
        #expect(svg.contains("<title>a (300 samples, 75.00%; +25.00%)</title>"), "\(svg.suffix(800))")
        #expect(svg.contains("<title>b (100 samples, 25.00%; -25.00%)</title>"))
        #expect(svg.contains("fill=\"rgb(255,0,0)\"") && svg.contains("fill=\"rgb(0,0,255)\""))

        let r = try #require(Self.recording, "recording the fixture failed")
        let both = try Support.perch(["diff", r.data, r.data, "-o", Support.workDirectory + "/same.svg"])
        #expect(both.status == 0, "\(both.stderr)")
        let same = try String(contentsOfFile: Support.workDirectory + "/same.svg", encoding: .utf8)
        #expect(same.contains("work_a (") && !same.contains("fill=\"rgb(255,0,0)\""), "no change between a recording and itself")
        let mixed = try Support.perch(["diff", before, r.data, "-o", "-"])
        #expect(mixed.status == 0 && mixed.stdout.contains("<svg"))
    }

    /// Not a correctness test: with PERCH_FLAMEGRAPH_BENCH set, writes a 1M-sample recording (the
    /// Benchmarks workload's shape) to that path for timing `perch report --flamegraph`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PERCH_FLAMEGRAPH_BENCH"] != nil))
    func writeMillionSampleRecording() throws {
        try BenchWorkload.file(count: 1_000_000, path: ProcessInfo.processInfo.environment["PERCH_FLAMEGRAPH_BENCH"]!)
    }
}

import PerfABI
import PerfRecords
import TestSupport

/// The Benchmarks package's recording-shaped workload: `count` samples over a few hundred distinct
/// frame-pointer stacks in one mapped executable.
enum BenchWorkload {
    static func file(count: Int, path: String) throws {
        let attributes = samplingAttributes()
        let writer = try PerfDataWriter(path: path, events: [EventDescription(attributes: attributes, ids: [1])])
        writer.append(RecordBytes.mmap2(pid: 100, tid: 100, start: 0x40_0000, length: 0x10_0000, filename: "/usr/bin/true",
                                        trailer: SampleID(id: 1), attributes: attributes))
        for index in 0..<count {
            let depth = 8 + index % 8
            let callchain = [CallchainContext.user.rawValue]
                + (0..<depth).map { level in UInt64(0x40_1000 + ((index / (level + 1)) % 31) * 64 + level * 4096) }
            writer.append(RecordBytes.sample(
                ip: UInt64(0x40_1000 + (index % 97) * 16),
                id: SampleID(pid: 100, tid: Int32(100 + index % 4), time: UInt64(index), cpu: UInt32(index % 2), id: 1),
                period: 250_000, callchain: callchain, attributes: attributes))
        }
        try writer.finish(features: PerfDataFeatures())
    }
}
