import Testing
import PerfEvents
@testable import PerfRecords

private let decoder = RecordDecoder(events: [EventDescription(attributes: samplingAttributes(), ids: [7])])

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
    var mmap = RecordBytes(type: .mmap2, misc: 2)
    mmap.append(UInt32(10)); mmap.append(UInt32(11))
    mmap.append(UInt64(0x40_0000)); mmap.append(UInt64(0x1000)); mmap.append(UInt64(0x2000))
    mmap.append(UInt32(8)); mmap.append(UInt32(1)); mmap.append(UInt64(99)); mmap.append(UInt64(0))
    mmap.append(UInt32(5)); mmap.append(UInt32(2))
    mmap.appendString("/usr/bin/app")
    appendTrailer(&mmap, pid: 10, tid: 11, time: 500)
    try decode(mmap.finished()) { record in
        guard case .mmap(let decoded) = record else { Issue.record("not mmap"); return }
        #expect(decoded.start == 0x40_0000 && decoded.length == 0x1000 && decoded.pageOffset == 0x2000)
        #expect(decoded.inode == 99 && decoded.major == 8)
        #expect(decoded.filename == "/usr/bin/app")
        #expect(decoded.sampleID.time == 500 && decoded.sampleID.hasTime)
    }

    var comm = RecordBytes(type: .comm, misc: 1 << 13)
    comm.append(UInt32(10)); comm.append(UInt32(11))
    comm.appendString("worker")
    appendTrailer(&comm, pid: 10, tid: 11, time: 600)
    try decode(comm.finished()) { record in
        guard case .comm(let name) = record else { Issue.record("not comm"); return }
        #expect(name.name == "worker" && name.isExec && name.tid == 11)
    }

    var fork = RecordBytes(type: .fork)
    fork.append(UInt32(20)); fork.append(UInt32(10)); fork.append(UInt32(21)); fork.append(UInt32(11)); fork.append(UInt64(700))
    appendTrailer(&fork, pid: 20, tid: 21, time: 700)
    try decode(fork.finished()) { record in
        guard case .fork(let task) = record else { Issue.record("not fork"); return }
        #expect(task.pid == 20 && task.parentPID == 10 && task.tid == 21 && task.time == 700)
    }

    var lost = RecordBytes(type: .lost)
    lost.append(UInt64(7)); lost.append(UInt64(123))
    appendTrailer(&lost, pid: 0, tid: 0, time: 800)
    try decode(lost.finished()) { record in
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
