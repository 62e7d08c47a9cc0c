import Foundation
import PerfABI
import PerfRecords
import ProfileModel
import Symbolication
import Testing
import TestSupport

@testable import Profiling

/// Records whose numbers are corrupted (counts, sizes, offsets, periods, times near 2^64) must be
/// skipped and counted, or saturated, never trap: each of these trapped or wrapped once.
@Suite struct CorruptedRecordTests {
    static let pid: Int32 = 40, tid: Int32 = 40

    /// A sample of `samplingAttributes()` whose call-chain count (at byte 56) is `count`.
    static func sample(callchainCount count: UInt64, time: UInt64 = 10) -> [UInt8] {
        var bytes = sampleRecord(ip: 0x1010, pid: pid, tid: tid, time: time, callchain: [0x1010])
        withUnsafeBytes(of: count.littleEndian) { bytes.replaceSubrange(56..<64, with: $0) }
        return bytes
    }

    static func good(time: UInt64, ip: UInt64 = 0x1010, period: UInt64 = 250_000) -> [UInt8] {
        RecordBytes.sample(ip: ip, id: SampleID(pid: pid, tid: tid, time: time, cpu: 1), period: period, callchain: [ip])
    }

    static func build(_ records: [[UInt8]], events: [EventDescription] = SyntheticPerfData.samplingEvents,
                      weighting: Profiling.ProfileBuilder.Weighting = .onCPU) throws -> Profile {
        let dir = try makeTemporaryDirectory(prefix: "perch-corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/perf.data"
        try SyntheticPerfData.write(records.map { .record($0) } + [.finishedRound], to: path, events: events)
        let file = try PerfDataFile(path: path)
        return try Profiling.ProfileBuilder(file: file, symbolizer: ELFSymbolizer(), weighting: weighting).build()
    }

    /// Attributes whose samples end in `extra` (a user stack or AUX data, each a u64 size first).
    static func events(with extra: SampleType) -> [EventDescription] {
        var attributes = samplingAttributes()
        attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period, extra]
        return [EventDescription(attributes: attributes, ids: [7])]
    }

    /// A sample of `events(with:)`: the fixed fields, then `size` as the stack's or AUX's size.
    static func sample(sizedField size: UInt64) -> [UInt8] {
        var record = RecordBytes(type: .sample, misc: 2)
        record.append(UInt64(7)); record.append(UInt64(0x1010))
        record.append(UInt32(bitPattern: pid)); record.append(UInt32(bitPattern: tid))
        record.append(UInt64(10)); record.append(UInt32(1)); record.append(UInt32(0)); record.append(UInt64(1))
        record.append(size)
        record.append(UInt64(0))
        return record.finished()
    }

    static let mapping = RecordBytes.mmap2(pid: pid, tid: tid, start: 0x1000, length: 0x1000, filename: "/bin/true",
                                           trailer: SampleID(pid: pid, tid: tid, time: 1))

    @Test(arguments: [UInt64(1) << 61, UInt64(1) << 62, .max, 3])
    func callChainCountsPastTheRecordAreSkippedAndCounted(count: UInt64) throws {
        let profile = try Self.build([Self.mapping, Self.good(time: 5), Self.sample(callchainCount: count), Self.good(time: 20)])
        #expect(profile.summary.malformedRecords == 1)
        #expect(profile.summary.sampleCount == 2)
        #expect(profile.totalSamples == 2)
    }

    @Test(arguments: [SampleType.stackUser, .aux], [UInt64(1) << 63, .max, 1 << 40])
    func stackAndAUXSizesPastTheRecordAreSkippedAndCounted(field: SampleType, size: UInt64) throws {
        let profile = try Self.build([Self.sample(sizedField: size), Self.sample(sizedField: 0)], events: Self.events(with: field))
        #expect(profile.summary.malformedRecords == 1)
        #expect(profile.summary.sampleCount == 1)
    }

    @Test func lostCountsSaturate() throws {
        var lostSamples = RecordBytes(type: .lostSamples)
        lostSamples.append(UInt64.max - 1)
        lostSamples.appendTrailer(SampleID(pid: Self.pid, tid: Self.tid, time: 3))
        let profile = try Self.build([
            RecordBytes.lost(count: 1 << 63, trailer: SampleID(time: 1)), RecordBytes.lost(count: 1 << 63, trailer: SampleID(time: 2)),
            RecordBytes.lost(count: 5, trailer: SampleID(time: 3)),
            lostSamples.finished(), lostSamples.finished(),
        ])
        #expect(profile.summary.lostRecords == .max)
        #expect(profile.summary.lostSamples == .max)
    }

    @Test func pageOffsetsNearTheTopOfTheFileDoNotTrap() throws {
        let trailer = SampleID(pid: Self.pid, tid: Self.tid, time: 1)
        let profile = try Self.build([
            RecordBytes.mmap2(pid: Self.pid, tid: Self.tid, start: 0x1000, length: 0x4000, pageOffset: .max - 0x800,
                              filename: "/bin/true", trailer: trailer),
            // Splits the first: its right part's page offset moves past 2^64.
            RecordBytes.mmap2(pid: Self.pid, tid: Self.tid, start: 0x2000, length: 0x1000, pageOffset: .max,
                              filename: "/bin/false", trailer: trailer),
            // Reaches past the top of the address space.
            RecordBytes.mmap2(pid: Self.pid, tid: Self.tid, start: .max - 0xfff, length: .max, pageOffset: .max,
                              filename: "/bin/sh", trailer: trailer),
            Self.good(time: 5, ip: 0x1800), Self.good(time: 6, ip: 0x2800), Self.good(time: 7, ip: 0x4800),
            Self.good(time: 8, ip: .max - 0x10),
        ])
        #expect(profile.summary.sampleCount == 4)
        #expect(profile.summary.malformedRecords == 0)
    }

    @Test func theUnwindersViewOfAMappingWrapsInsteadOfTrapping() {
        let space = AddressSpace(mappings: [Mapping(start: 0x1000, end: 0x2000, pageOffset: .max, dso: 0)])
        let module = ModelSpace(space: space, model: ProcessModel()).module(at: 0x1800)
        #expect(module?.fileOffset == 0x7ff)
        let split = AddressSpace(mappings: [Mapping(start: 0x1000, end: 0x4000, pageOffset: .max, dso: 0)])
        split.insert(Mapping(start: 0x2000, end: 0x3000, pageOffset: 0, dso: 1))
        #expect(split.mappings.map(\.start) == [0x1000, 0x2000, 0x3000])
    }

    @Test func hugePeriodsSaturateTheTotals() throws {
        let profile = try Self.build([Self.mapping, Self.good(time: 5, period: 1 << 63), Self.good(time: 6, period: 1 << 63),
                                      Self.good(time: 7, period: 1 << 63)])
        #expect(profile.totalPeriod == .max)
        #expect(profile.stacks.allSatisfy { $0.period == .max })
    }

    @Test func aSwitchInBeforeItsSwitchOutIsDroppedAndCounted() throws {
        func change(out: Bool, time: UInt64) -> [UInt8] {
            RecordBytes.switchThread(out: out, trailer: SampleID(pid: Self.pid, tid: Self.tid, time: time, cpu: 1))
        }
        // Records are sorted by time only within a round: a corrupted time two rounds later
        // survives that, coming after the switch-out it should precede.
        let items: [PerfDataItem] = [.record(change(out: true, time: 1000)), .record(change(out: false, time: 1500)),
                                     .finishedRound, .record(change(out: true, time: 5000)), .finishedRound, .finishedRound,
                                     .finishedRound, .record(change(out: false, time: 10)), .finishedRound]
        let dir = try makeTemporaryDirectory(prefix: "perch-corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/perf.data"
        try SyntheticPerfData.write(items, to: path)
        let profile = try Profiling.ProfileBuilder(file: PerfDataFile(path: path), symbolizer: ELFSymbolizer(), weighting: .offCPU).build()
        #expect(profile.totalValue == 500)
        #expect(profile.summary.notes.contains { $0.kind == .timeWentBackwards && $0.text.hasPrefix("1 off-CPU interval") })
    }
}
