import Testing
import TestSupport
import PerfABI
@testable import PerfRecords
import Glibc

@Test func perfDataFilesRoundTrip() throws {
    let path = "/tmp/perch-roundtrip-\(getpid()).data"
    defer { unlink(path) }
    let event = EventDescription(attributes: samplingAttributes(), ids: [7, 8])
    let records = (0..<1000).map { sampleRecord(ip: UInt64(0x1000 + $0), pid: 1, tid: 2, time: UInt64($0), callchain: [UInt64($0)]) }
    var features = PerfDataFeatures()
    features.hostname = "host"
    features.osRelease = "6.18"
    features.commandLine = ["perch", "record", "--", "./app"]
    features.cpusAvailable = 2
    features.cpusOnline = 2
    features.buildIDs = [BuildIDEntry(path: "/usr/bin/app", buildID: Array(1...20))]
    try SyntheticPerfData.write(records.map(PerfDataItem.record) + [.finishedRound], to: path, events: [event], features: features)

    let file = try PerfDataFile(path: path)
    #expect(file.events.count == 1)
    #expect(file.events[0].ids == [7, 8])
    #expect(file.events[0].attributes == samplingAttributes())
    #expect(file.events[0].name == "cpu-clock")
    #expect(file.features.hostname == "host")
    #expect(file.features.commandLine == ["perch", "record", "--", "./app"])
    #expect(file.features.cpusOnline == 2)
    #expect(file.features.buildIDs == [BuildIDEntry(path: "/usr/bin/app", buildID: Array(1...20))])
    var read: [[UInt8]] = []
    try file.forEachRecord { bytes, _ in read.append(Array(bytes)) }
    #expect(read.count == 1001)
    #expect(Array(read.prefix(1000)) == records)
}

@Test func malformedFilesGiveOneClearError() throws {
    let path = "/tmp/perch-malformed-\(getpid()).data"
    defer { unlink(path) }
    func write(_ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
    write(Array("hello, this is not a profile at all".utf8))
    #expect { try PerfDataFile(path: path) } throws: { "\($0)".contains("not a perf.data file") }

    // A valid magic with sections pointing past the end of the file.
    var header: [UInt8] = []
    for word: UInt64 in [0x3245_4c49_4652_4550, 104, 144, 104, 1 << 30] { header.append(littleEndian: word) }
    header += [UInt8](repeating: 0, count: 104 - header.count)
    write(header)
    #expect { try PerfDataFile(path: path) } throws: { "\($0)".contains("malformed") }

    #expect { try PerfDataFile(path: "/nonexistent/perch.data") } throws: { "\($0)".contains("No such file") }
}

@Test func anUnfinishedFileIsReadUpToItsLastRoundWithACutShortNote() throws {
    let path = "/tmp/perch-unfinished-\(getpid()).data"
    defer { unlink(path); unlink(path + ".old") }
    let event = EventDescription(attributes: samplingAttributes(), ids: [7])
    let records = (0..<10).map { sampleRecord(ip: UInt64(0x1000 + $0), pid: 1, tid: 2, time: UInt64($0), callchain: [UInt64($0)]) }
    do {
        // As a recorder killed mid-recording leaves it: one whole round, then records after it.
        let writer = try PerfDataWriter(path: path, events: [event])
        for record in records.prefix(6) { record.withUnsafeBytes { writer.append($0) } }
        writer.appendFinishedRound()
        for record in records.suffix(4) { record.withUnsafeBytes { writer.append($0) } }
    }
    let file = try PerfDataFile(path: path)
    #expect(file.isCutShort)
    #expect(file.features.recordingNotes.map(\.kind) == ["recordingCutShort"])
    var read: [[UInt8]] = []
    try file.forEachRecord { bytes, _ in read.append(Array(bytes)) }
    #expect(read.count == 7)  // the round and its FINISHED_ROUND
    #expect(Array(read.prefix(6)) == Array(records.prefix(6)))
}

@Test func aFileWhoseHeaderCountsNoDataIsReadToItsEndIgnoringATornRecord() throws {
    let path = "/tmp/perch-unsized-\(getpid()).data"
    defer { unlink(path); unlink(path + ".old") }
    let event = EventDescription(attributes: samplingAttributes(), ids: [7])
    let records = (0..<10).map { sampleRecord(ip: UInt64(0x1000 + $0), pid: 1, tid: 2, time: UInt64($0), callchain: [UInt64($0)]) }
    do {
        let writer = try PerfDataWriter(path: path, events: [event])
        for record in records { record.withUnsafeBytes { writer.append($0) } }
    }  // no round: the header's data size stays 0; the buffer is never flushed
    // Write the records by hand after the header, as perf's killed recorder leaves them, torn at the end.
    let fd = open(path, O_WRONLY | O_APPEND)
    let bytes = records.flatMap { $0 } + Array(records[0].prefix(12))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    let file = try PerfDataFile(path: path)
    #expect(file.isCutShort)
    var read: [[UInt8]] = []
    try file.forEachRecord { bytes, _ in read.append(Array(bytes)) }
    #expect(read == records)
}

@Test func theWriterKeepsAnExistingFileAsOldAndRefusesALink() throws {
    let path = "/tmp/perch-existing-\(getpid()).data"
    let link = "/tmp/perch-link-\(getpid()).data"
    defer { unlink(path); unlink(path + ".old"); unlink(link) }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = write(fd, "old", 3)
    close(fd)
    let event = EventDescription(attributes: samplingAttributes(), ids: [7])
    _ = try PerfDataWriter(path: path, events: [event])
    var info = stat()
    #expect(stat(path + ".old", &info) == 0 && info.st_size == 3)
    #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
    symlink(path + ".old", link)
    #expect(throws: PerfDataError.self) { try PerfDataWriter(path: link, events: [event]) }
    #expect(stat(path + ".old", &info) == 0 && info.st_size == 3)
}

/// The recorder hands the writer runs of many records (1 MiB queue chunks), written from where
/// they lie; single records are gathered in its buffer. Interleaved, they come back whole and
/// in order, and the header counts every byte.
@Test func runsWrittenInPlaceAndBufferedRecordsKeepTheirOrder() throws {
    let path = "/tmp/perch-runs-\(getpid()).data"
    defer { unlink(path) }
    let event = EventDescription(attributes: samplingAttributes(), ids: [7])
    let writer = try PerfDataWriter(path: path, events: [event])
    var expected: [[UInt8]] = []
    var index: UInt64 = 0
    func records(_ count: Int) -> [[UInt8]] {
        (0..<count).map { _ in
            defer { index += 1 }
            return sampleRecord(ip: 0x1000 + index, pid: 1, tid: 2, time: index, callchain: Array(repeating: index, count: Int(index % 7)))
        }
    }
    for round in 0..<6 {
        let single = records(3)
        for record in single { record.withUnsafeBytes { writer.append($0) } }
        let run = records(round.isMultiple(of: 2) ? 2000 : 10)  // 2000 records: well over 64 KiB
        let bytes = run.flatMap { $0 }
        #expect(round.isMultiple(of: 2) == (bytes.count >= PerfDataWriter.directWriteBytes))
        bytes.withUnsafeBytes { writer.append($0) }
        writer.appendFinishedRound()
        expected += single + run
    }
    try writer.finish(features: PerfDataFeatures())

    let file = try PerfDataFile(path: path)
    var read: [[UInt8]] = []
    try file.forEachRecord { bytes, _ in
        if RecordDecoder.type(of: bytes) == RecordType.sample.rawValue { read.append(Array(bytes)) }
    }
    #expect(read.count == expected.count)
    #expect(read == expected)
}
