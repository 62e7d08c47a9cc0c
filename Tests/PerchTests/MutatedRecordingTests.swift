import Foundation
import PerfABI
import Testing
import TestSupport

/// The small, deterministic version of Scripts/mutate-recordings that CI keeps: 40 seeded
/// mutations of one synthetic recording (header sizes, types, 64-bit fields set to counts,
/// sizes and offsets near 2^64, bit flips), each through `perch report` under `timeout`.
@Suite struct MutatedRecordingTests {
    static func recording() -> [PerfDataItem] {
        let trailer = SampleID(pid: 9, tid: 9, time: 1, cpu: 1)
        var items: [PerfDataItem] = [
            .record(RecordBytes.comm(pid: 9, tid: 9, name: "mutant", trailer: trailer)),
            .record(RecordBytes.mmap2(pid: 9, tid: 9, start: 0x400000, length: 0x10000, pageOffset: 0x1000,
                                      filename: "/bin/true", trailer: trailer)),
            .record(RecordBytes.lost(count: 3, trailer: trailer)),
        ]
        for i in 0..<12 {
            let time = UInt64(10 + i)
            items.append(.record(sampleRecord(ip: 0x401000 + UInt64(i) * 16, pid: 9, tid: 9, time: time,
                                              callchain: [0x401000 + UInt64(i) * 16, 0x402000, 0x403000])))
            items.append(.record(RecordBytes.switchThread(out: i % 2 == 0, trailer: SampleID(pid: 9, tid: 9, time: time, cpu: 1))))
            if i % 4 == 3 { items.append(.finishedRound) }
        }
        return items
    }

    static func mutate(_ original: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = original
        func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        let start = u64(40), end = min(bytes.count, start + u64(48))
        var records: [(offset: Int, size: Int)] = []
        var at = start
        while at + 8 <= end {
            let size = Int(bytes[at + 6]) | Int(bytes[at + 7]) << 8
            guard size >= 8, at + size <= end else { break }
            records.append((at, size))
            at += size
        }
        let huge: [UInt64] = [1 << 61, 1 << 62, 1 << 63, .max, .max - 0xfff, 1 << 32]
        for _ in 0...random.below(3) {
            let record = records[random.below(records.count)]
            switch random.below(4) {
            case 0:  // the size field
                let size = [0, 7, 8, record.size - 8, record.size + 8, 0xffff][random.below(6)]
                bytes[record.offset + 6] = UInt8(truncatingIfNeeded: max(size, 0))
                bytes[record.offset + 7] = UInt8(truncatingIfNeeded: max(size, 0) >> 8)
            case 1:  // a bit of the record
                bytes[record.offset + random.below(record.size)] ^= 1 << UInt8(random.below(8))
            default:  // a 64-bit field: counts, sizes, offsets, times, periods
                let slots = (record.size - 8) / 8
                guard slots > 0 else { continue }
                let field = record.offset + 8 + 8 * random.below(slots)
                let value = random.below(3) == 0 ? random.next() : huge[random.below(huge.count)]
                for i in 0..<8 { bytes[field + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
            }
        }
        return bytes
    }

    @Test func fortySeededMutantsNeverKillPerch() throws {
        let original = Support.workDirectory + "/mutation-original.data"
        try SyntheticPerfData.write(Self.recording(), to: original)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        var random = SplitMix64(seed: 2024) // the same mutants on every run
        for index in 0..<40 {
            let mutant = Support.workDirectory + "/mutant-\(index).data"
            try Data(Self.mutate(bytes, &random)).write(to: URL(fileURLWithPath: mutant))
            for command in ["report -i", "report --off-cpu -i"] {
                let result = try Support.run("sh", ["-c", "timeout 60 \(Support.perch) \(command) \(mutant) >/dev/null"])
                #expect(result.reason == .exit && result.status < 124, "mutant \(index), perch \(command): status \(result.status)\n\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count <= 3, "mutant \(index): \(result.stderr)")
            }
            try? FileManager.default.removeItem(atPath: mutant)
        }
    }
}
