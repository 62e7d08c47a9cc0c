import Testing
import TestSupport
@testable import PerfABI

private let decoder = RecordDecoder(events: SyntheticPerfData.samplingEvents)

/// Decodes `bytes` and hands the record to `body` while its bytes are alive.
private func decode(_ bytes: [UInt8], _ body: (Record) -> Void = { _ in }) throws {
    try bytes.withUnsafeBytes { raw in body(try decoder.decode(raw)) }
}

@Test func decodesASampleWithItsCallchain() throws {
    let kernel = CallchainContext.kernel.rawValue, user = CallchainContext.user.rawValue
    let bytes = sampleRecord(ip: 0xffff_ffff_8100_0010, pid: 42, tid: 43, time: 1_000,
                             callchain: [kernel, 0xffff_ffff_8100_0010, user, 0x401000, 0x401100])
    try bytes.withUnsafeBytes { raw in
        guard case .sample(let sample) = try decoder.decode(raw) else { Issue.record("not a sample"); return }
        #expect(sample.ip == 0xffff_ffff_8100_0010)
        #expect(sample.pid == 42 && sample.tid == 43)
        #expect(sample.time == 1_000)
        #expect(sample.cpu == 1)
        #expect(sample.period == 250_000)
        #expect(Array(sample.callchain) == [kernel, 0xffff_ffff_8100_0010, user, 0x401000, 0x401100])
        #expect(sample.id == 7)
    }
}

@Test func decodesMmap2CommForkAndLostWithTheirTrailers() throws {
    let mmap = RecordBytes.mmap2(pid: 10, tid: 11, start: 0x40_0000, length: 0x1000, pageOffset: 0x2000,
                                 major: 8, minor: 1, inode: 99, protection: 5, flags: 2, filename: "/usr/bin/app",
                                 trailer: SampleID(pid: 10, tid: 11, time: 500))
    try decode(mmap) { record in
        guard case .mmap(let decoded) = record else { Issue.record("not mmap"); return }
        #expect(decoded.start == 0x40_0000 && decoded.length == 0x1000 && decoded.pageOffset == 0x2000)
        #expect(decoded.inode == 99 && decoded.major == 8)
        #expect(decoded.filename == "/usr/bin/app")
        #expect(decoded.sampleID.time == 500 && decoded.sampleID.hasTime)
    }

    let comm = RecordBytes.comm(pid: 10, tid: 11, name: "worker", exec: true, trailer: SampleID(pid: 10, tid: 11, time: 600))
    try decode(comm) { record in
        guard case .comm(let name) = record else { Issue.record("not comm"); return }
        #expect(name.name == "worker" && name.isExec && name.tid == 11)
    }

    let fork = RecordBytes.fork(pid: 20, parentPID: 10, tid: 21, parentTID: 11, time: 700, trailer: SampleID(pid: 20, tid: 21, time: 700))
    try decode(fork) { record in
        guard case .fork(let task) = record else { Issue.record("not fork"); return }
        #expect(task.pid == 20 && task.parentPID == 10 && task.tid == 21 && task.time == 700)
    }

    let lost = RecordBytes.lost(id: 7, count: 123, trailer: SampleID(time: 800))
    try decode(lost) { record in
        guard case .lost(_, let count, _) = record else { Issue.record("not lost"); return }
        #expect(count == 123)
    }
}

@Test func truncatedRecordsAreErrorsNotGarbage() {
    let full = sampleRecord(ip: 1, pid: 1, tid: 1, time: 1, callchain: [1, 2, 3])
    // Claim fewer bytes than the fields need: the call chain runs past the end.
    var short = Array(full.prefix(full.count - 16))
    short[6] = UInt8(short.count)
    #expect(throws: RecordError.self) { try decode(short) }

    // A call chain length far beyond the record.
    var lying = RecordBytes(type: .sample)
    for _ in 0..<6 { lying.append(UInt64(0)) }
    lying.append(UInt64(1 << 40))
    #expect(throws: RecordError.self) { try decode(lying.finished()) }

    // A header whose size is below 8, or beyond the buffer.
    #expect(throws: RecordError.badSize(type: 9, size: 4)) { try decode(RecordBytes(type: .sample).finished(size: 4)) }
    #expect(throws: RecordError.badSize(type: 9, size: 64)) { try decode(RecordBytes(type: .sample).finished(size: 64)) }
}

@Test func unknownRecordTypesAreSkippedBySize() throws {
    var unknown = RecordBytes(rawType: 4000)
    unknown.append(UInt64(0xdead_beef))
    try decode(unknown.finished()) { record in
        guard case .other(let type) = record else { Issue.record("misparsed unknown record"); return }
        #expect(type == 4000)
    }
}

@Test func oversizedRecordsDecodeWithinTheirDeclaredSize() throws {
    // A record followed by more bytes: only the declared size is read.
    var bytes = sampleRecord(ip: 0x1234, pid: 5, tid: 6, time: 9, callchain: [])
    bytes += [UInt8](repeating: 0xff, count: 64)
    try decode(bytes) { record in
        guard case .sample(let sample) = record else { Issue.record("not a sample"); return }
        #expect(sample.ip == 0x1234 && sample.callchain.isEmpty)
    }
}
