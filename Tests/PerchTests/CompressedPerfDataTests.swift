import Foundation
import Testing

/// `perf record -z` files hold their records zstd-compressed in PERF_RECORD_COMPRESSED records.
/// They used to read as an empty profile with exit 0; now they read exactly as the same recording
/// decompressed by `perf inject`, and a damaged one is an error naming the record.
@Suite(.serialized) struct CompressedPerfDataTests {
    static let perfPresent = Support.commandExists("perf")

    /// A `perf record -z -g` recording of the 5:3:2 fixture and its decompressed twin.
    static func recordings() throws -> (compressed: String, plain: String) {
        let binary = try Support.fixture("known_weights")
        let compressed = Support.workDirectory + "/compressed.data"
        let plain = Support.workDirectory + "/compressed-injected.data"
        var recorded = try Support.run("perf", ["record", "-q", "-z", "-g", "-o", compressed, "--", binary, "100"])
        for _ in 0..<2 where recorded.status != 0 {  // perf 6.1 here aborts now and then while recording
            recorded = try Support.run("perf", ["record", "-q", "-z", "-g", "-o", compressed, "--", binary, "100"])
        }
        try #require(recorded.status == 0, "perf record -z failed: \(recorded.stderr)")
        let header = try Support.run("perf", ["report", "-i", compressed, "--header-only"])
        try #require(header.stdout.contains("# compressed : Zstd"), "perf did not compress: \(header.stdout.suffix(500))")
        let injected = try Support.run("perf", ["inject", "-i", compressed, "-o", plain])
        try #require(injected.status == 0, "perf inject failed: \(injected.stderr)")
        return (compressed, plain)
    }

    @Test(.enabled(if: perfPresent, "perf is not installed"))
    func compressedReadsAsItsDecompressedTwin() throws {
        let (compressed, plain) = try Self.recordings()
        let fromCompressed = try Support.perch(["report", "-i", compressed, "--json"])
        let fromPlain = try Support.perch(["report", "-i", plain, "--json"])
        #expect(fromCompressed.status == 0, "\(fromCompressed.stderr)")
        let json = try JSONReport(fromCompressed.stdout), twin = try JSONReport(fromPlain.stdout)
        let samples = try #require(json.summary["totalSamples"] as? Int)
        #expect(samples > 100, "a second of 5:3:2 work has samples")
        #expect(samples == twin.summary["totalSamples"] as? Int)
        // perf's own count of the samples in the compressed file.
        let script = try Support.run("perf", ["script", "-i", compressed, "-F", "event"])
        try #require(script.status == 0, "perf script failed: \(script.status) \(script.stderr)")
        let perfSamples = script.stdout.split(separator: "\n").filter { $0.contains("cpu-clock") }.count
        #expect(samples == perfSamples, "perf script counts \(perfSamples)")

        // Every output: the folded stacks of both files are the same lines.
        let foldedCompressed = Support.workDirectory + "/compressed.folded"
        let foldedPlain = Support.workDirectory + "/compressed-injected.folded"
        #expect(try Support.perch(["report", "-i", compressed, "--folded", foldedCompressed]).status == 0)
        #expect(try Support.perch(["report", "-i", plain, "--folded", foldedPlain]).status == 0)
        let folded = try String(contentsOfFile: foldedCompressed, encoding: .utf8)
        #expect(folded == (try String(contentsOfFile: foldedPlain, encoding: .utf8)))
        let weights = ["work_a", "work_b", "work_c"].map { name in
            folded.split(separator: "\n").filter { $0.contains(name) }
                .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        }
        let total = Double(weights.reduce(0, +))
        #expect(total > 0)
        #expect(abs(Double(weights[0]) / total - 0.5) < 0.08, "5:3:2 split: \(weights)")
    }

    @Test(.enabled(if: perfPresent, "perf is not installed"))
    func damagedCompressedRecordIsAnErrorNamingIt() throws {
        let (compressed, _) = try Self.recordings()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: compressed)))
        let dataOffset = Int(bytes[40..<48].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let dataSize = Int(bytes[48..<56].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        // Find the first COMPRESSED record (type 81) and scribble over its zstd frame's magic.
        var offset = dataOffset, damaged: Int?
        while offset + 8 <= dataOffset + dataSize {
            let type = bytes[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let size = Int(bytes[offset + 6..<offset + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) })
            if type == 81 { damaged = offset - dataOffset; for index in offset + 8..<offset + 12 { bytes[index] = 0x55 }; break }
            offset += max(size, 8)
        }
        let at = try #require(damaged, "the file has a compressed record")
        let path = Support.workDirectory + "/compressed-damaged.data"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let outcome = try Support.perch(["report", "-i", path])
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("compressed record at data offset \(at) does not decompress (zstd: "), "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1)
        #expect(!outcome.stdout.contains("# Samples: 0"))
    }
}
