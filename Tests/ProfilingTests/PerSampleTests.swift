import Foundation
import PerfABI
import PerfRecords
import ProfileModel
import Symbolication
import Testing
import TestSupport

@testable import Profiling

/// The per-sample path (`forEachSample`, what `perch script` prints): each sample in time order,
/// its stack resolved as the aggregated profile's stacks are, return addresses as recorded.
@Suite struct PerSampleTests {
    static let pid: Int32 = 50, tid: Int32 = 51
    /// /bin/true mapped at 0x400000 from file offset 0x1000.
    static let mapping = RecordBytes.mmap2(pid: pid, tid: tid, start: 0x40_0000, length: 0x4000, pageOffset: 0x1000,
                                           filename: "/bin/true", trailer: SampleID(pid: pid, tid: tid, time: 1))
    static let comm = RecordBytes.comm(pid: pid, tid: tid, name: "worker", trailer: SampleID(pid: pid, tid: tid, time: 1))

    static func sample(time: UInt64, cpu: UInt32, period: UInt64, chain: [UInt64]) -> [UInt8] {
        RecordBytes.sample(ip: chain[0], id: SampleID(pid: pid, tid: tid, time: time, cpu: cpu), period: period, callchain: chain)
    }

    /// Writes `records` (one round) and returns the file.
    static func file(_ records: [[UInt8]]) throws -> (PerfDataFile, String) {
        let dir = try makeTemporaryDirectory(prefix: "perch-per-sample")
        let path = dir + "/perf.data"
        try SyntheticPerfData.write(records.map { .record($0) } + [.finishedRound], to: path)
        return (try PerfDataFile(path: path), dir)
    }

    static let chains: [[UInt64]] = [[0x40_0010, 0x40_0105, 0x40_0200], [0x40_0020, 0x40_0105, 0x40_0200], [0x40_0010, 0x40_0105, 0x40_0200]]

    @Test func samplesComeInTimeOrderWithTheirFieldsAndRecordedAddresses() throws {
        // Written out of order within the round: handed on sorted by time.
        let (file, dir) = try Self.file([Self.mapping, Self.comm,
                                         Self.sample(time: 30, cpu: 1, period: 300, chain: Self.chains[2]),
                                         Self.sample(time: 10, cpu: 0, period: 100, chain: Self.chains[0]),
                                         Self.sample(time: 20, cpu: 1, period: 200, chain: Self.chains[1])])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var seen: [ResolvedSample] = []
        try Profiling.ProfileBuilder(file: file, symbolizer: ELFSymbolizer()).forEachSample { seen.append($0) }
        #expect(seen.map(\.time) == [10, 20, 30])
        #expect(seen.map(\.period) == [100, 200, 300])
        #expect(seen.map(\.cpu) == [0, 1, 1])
        #expect(seen.allSatisfy { $0.pid == Self.pid && $0.tid == Self.tid && $0.comm == "worker" && $0.hasCallchain })
        #expect(seen.allSatisfy { $0.event == file.events[0].name })
        // File offsets, sampled frame first; callers at their return addresses (not the pc - 1
        // they were looked up at).
        #expect(seen[0].frames.map(\.address) == [0x1010, 0x1105, 0x1200])
        #expect(seen[1].frames.map(\.address) == [0x1020, 0x1105, 0x1200])
        #expect(seen[0].frames.allSatisfy { $0.frame.dso == "/bin/true" })
        #expect(seen[0].ip == 0x40_0010)
    }

    @Test func theSamplesAddUpToTheProfile() throws {
        let (file, dir) = try Self.file([Self.mapping, Self.comm] + (0..<30).map {
            Self.sample(time: UInt64(10 + $0), cpu: 0, period: 10, chain: Self.chains[$0 % 3])
        })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let profile = try Profiling.ProfileBuilder(file: file, symbolizer: ELFSymbolizer()).build()
        var fromProfile: [[String]: UInt64] = [:]
        for stack in profile.stacks {
            fromProfile[stack.frames.map { profile.frames[Int($0)].symbol + "@" + String(profile.frames[Int($0)].address, radix: 16) }, default: 0] += stack.samples
        }
        var perSample: [[String]: UInt64] = [:]
        try Profiling.ProfileBuilder(file: file, symbolizer: ELFSymbolizer()).forEachSample { sample in
            // The profile keeps the address each frame was looked up at: return addresses - 1.
            let frames = sample.frames.enumerated().map { index, frame in
                frame.frame.symbol + "@" + String(frame.address - (index == 0 ? 0 : 1), radix: 16)
            }
            perSample[frames.reversed(), default: 0] += 1
        }
        #expect(perSample == fromProfile)
        #expect(perSample.values.reduce(0, +) == 30)
    }

    struct Stop: Error {}

    @Test func anErrorFromTheVisitorStopsTheReading() throws {
        let (file, dir) = try Self.file([Self.mapping, Self.comm] + (0..<5).map {
            Self.sample(time: UInt64(10 + $0), cpu: 0, period: 10, chain: Self.chains[0])
        })
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var calls = 0
        #expect(throws: Stop.self) {
            try Profiling.ProfileBuilder(file: file, symbolizer: ELFSymbolizer()).forEachSample { _ in
                calls += 1
                throw Stop()
            }
        }
        #expect(calls == 1)
    }
}
