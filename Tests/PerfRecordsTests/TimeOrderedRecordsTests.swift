import Testing
import TestSupport
import PerfABI
@testable import PerfRecords
import Glibc

private typealias Item = PerfDataItem

/// What the iterator handed on for one record: its position among the records written
/// (markers not counted), its time, its event and its type.
private struct Seen: Equatable, CustomStringConvertible {
    var index: Int
    var time: UInt64
    var event: Int = 0
    var type: RecordType = .sample

    var description: String { "#\(index)@\(time)(e\(event),\(type))" }
}

/// Writes `items` to a perf.data file, maps it, and returns what `TimeOrderedRecords` hands on.
private func handedOn(_ items: [Item], events: [EventDescription] = SyntheticPerfData.samplingEvents,
                      passes: Int = 1, name: String = #function) throws -> [Seen] {
    let path = "/tmp/perch-timeorder-\(getpid())-\(name.prefix { $0.isLetter }).data"
    defer { unlink(path) }
    // data offset -> index among the records
    let offsets = Dictionary(uniqueKeysWithValues: try SyntheticPerfData.write(items, to: path, events: events).enumerated().map { ($1, $0) })
    let file = try PerfDataFile(path: path)
    let records = TimeOrderedRecords(file: file)
    var runs: [[Seen]] = []
    for _ in 0..<passes {
        var seen: [Seen] = []
        try records.forEach { record in
            #expect(record.bytes.count == Int(record.bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
            #expect(record.type == RecordDecoder.type(of: record.bytes))
            guard let index = offsets[record.offset] else {
                Issue.record("record at offset \(record.offset) (type \(record.type)) was not written as a record")
                return
            }
            seen.append(Seen(index: index, time: record.time, event: record.eventIndex, type: RecordType(rawValue: record.type)!))
        }
        runs.append(seen)
    }
    // Each pass over the file hands on the same sequence.
    for run in runs.dropFirst() { #expect(run == runs[0]) }
    return runs[0]
}

private func sample(_ time: UInt64, tag: UInt64 = 0) -> Item {
    .record(sampleRecord(ip: 0x1000 + tag, pid: 1, tid: 2, time: time, callchain: []))
}

/// A COMM record; with `trailerTime`, followed by the `samplingAttributes()` sample_id_all trailer.
private func comm(trailerTime: UInt64?) -> Item {
    .record(RecordBytes.comm(pid: 1, tid: 2, name: "app", trailer: trailerTime.map { SampleID(pid: 1, tid: 2, time: $0) }))
}

private func samples(_ times: [UInt64]) -> [Seen] {
    times.enumerated().map { Seen(index: $0.offset, time: $0.element) }
}

@Test func recordsOutOfOrderWithinAndAcrossRoundsComeOutSorted() throws {
    let seen = try handedOn([
        sample(30), sample(10), sample(20), .finishedRound,
        sample(15), sample(40), sample(35), .finishedRound,
        sample(32), sample(50), .finishedRound,
    ])
    #expect(seen.map(\.index) == [1, 3, 2, 0, 6, 5, 4, 7])
    #expect(seen.map(\.time) == [10, 15, 20, 30, 32, 35, 40, 50])
    #expect(seen.allSatisfy { $0.type == .sample && $0.event == 0 })
}

@Test func eachRoundIsHandedOnAtItsMarkerNotAtTheEnd() throws {
    // This file breaks the ordered-events rule (5 comes after the pass that ended at 30 was
    // handed on), which shows that records are handed on at the markers: a whole-file sort
    // would put 5 first.
    let seen = try handedOn([sample(30), sample(10), .finishedRound, sample(20), .finishedRound, sample(5), .finishedRound])
    #expect(seen == [Seen(index: 1, time: 10), Seen(index: 2, time: 20), Seen(index: 0, time: 30), Seen(index: 3, time: 5)])
}

@Test func aFileWithoutMarkersIsSortedWhole() throws {
    let seen = try handedOn([sample(30), sample(10), sample(20), sample(10), sample(5), sample(30)])
    #expect(seen == [Seen(index: 4, time: 5), Seen(index: 1, time: 10), Seen(index: 3, time: 10),
                     Seen(index: 2, time: 20), Seen(index: 0, time: 30), Seen(index: 5, time: 30)])
}

@Test func tiesKeepFileOrderWithinAndAcrossRounds() throws {
    let seen = try handedOn([sample(7), sample(7), .finishedRound, sample(7), sample(3), sample(7), .finishedRound, sample(7), .finishedRound])
    #expect(seen.map(\.index) == [3, 0, 1, 2, 4, 5])
    #expect(seen.map(\.time) == [3, 7, 7, 7, 7, 7])
}

@Test func nonSampleRecordsAreOrderedByTheirTrailerTimeOrTheLatestTimeBefore() throws {
    var threadMap = RecordBytes(rawType: RecordType.threadMap.rawValue)
    threadMap.append(UInt64(0))
    let seen = try handedOn([
        comm(trailerTime: 0),  // synthesized: no time yet
        sample(100),
        comm(trailerTime: 50),
        .record(threadMap.finished()),  // perf's own record: no time, no event
        comm(trailerTime: 0),
        sample(60),
        comm(trailerTime: 80),
    ])
    #expect(seen == [
        Seen(index: 0, time: 0, type: .comm), Seen(index: 2, time: 50, type: .comm), Seen(index: 5, time: 60),
        Seen(index: 6, time: 80, type: .comm), Seen(index: 1, time: 100), Seen(index: 3, time: 100, type: .threadMap),
        Seen(index: 4, time: 100, type: .comm),
    ])
}

@Test func nonSampleRecordsWithoutSampleIDAllTakeTheLatestTimeBefore() throws {
    var attributes = samplingAttributes()
    attributes.flags.remove(.sampleIDAll)
    let seen = try handedOn([sample(20), comm(trailerTime: nil), sample(10), comm(trailerTime: nil), sample(30)],
                            events: [EventDescription(attributes: attributes, ids: [7])])
    #expect(seen == [Seen(index: 2, time: 10), Seen(index: 0, time: 20), Seen(index: 1, time: 20, type: .comm),
                     Seen(index: 3, time: 20, type: .comm), Seen(index: 4, time: 30)])
}

@Test func everyRecordIsHandedOnExactlyOnceInStableTimeOrder() throws {
    // 40 passes; pass p has times in [100p, 100p + 180): passes overlap their neighbours but keep
    // perf's rule (no record earlier than anything before the marker of the pass before).
    var state: UInt64 = 12345
    func next(_ bound: UInt64) -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (state >> 33) % bound
    }
    var items: [Item] = []
    var times: [UInt64] = []
    for pass in 0..<40 {
        for _ in 0..<(20 + Int(next(60))) {
            let time = UInt64(pass) * 100 + next(18) * 10  // multiples of 10: many ties
            times.append(time)
            items.append(next(4) == 0 ? comm(trailerTime: time) : sample(time, tag: UInt64(times.count)))
        }
        items.append(.finishedRound)
    }
    let seen = try handedOn(items, passes: 2)
    #expect(seen.count == times.count)
    #expect(Set(seen.map(\.index)) == Set(times.indices))
    let expected = times.indices.sorted { times[$0] != times[$1] ? times[$0] < times[$1] : $0 < $1 }
    #expect(seen.map(\.index) == expected)
    #expect(seen.map(\.time) == expected.map { times[$0] })
}

@Test func eventIndexAndTimeFollowEachEventsLayout() throws {
    // cpu-clock: identifier, ip, tid, time, cpu, period, callchain (time at 32, trailer time 24 from the end).
    // context-switches: identifier, time, id, cpu, period (time at 16, trailer time 32 from the end).
    var switches = EventAttributes(kind: .contextSwitches)
    switches.samplePeriodOrFrequency = 1
    switches.flags = [.sampleIDAll]
    switches.sampleType = [.identifier, .time, .id, .cpu, .period]
    let events = [EventDescription(attributes: samplingAttributes(), ids: [7]), EventDescription(attributes: switches, ids: [9])]

    func switchSample(_ time: UInt64) -> Item {
        .record(RecordBytes.sample(id: SampleID(time: time, id: 9), period: 1, attributes: switches))
    }
    func switchOut(_ time: UInt64) -> Item {
        .record(RecordBytes.switchThread(out: true, trailer: SampleID(time: time, id: 9), attributes: switches))
    }
    let seen = try handedOn([
        sample(40), switchSample(20), switchOut(30), comm(trailerTime: 10), .finishedRound,
        switchSample(50), sample(45), .finishedRound,
    ], events: events)
    #expect(seen == [
        Seen(index: 3, time: 10, event: 0, type: .comm), Seen(index: 1, time: 20, event: 1),
        Seen(index: 2, time: 30, event: 1, type: .switchThread), Seen(index: 0, time: 40, event: 0),
        Seen(index: 5, time: 45, event: 0), Seen(index: 4, time: 50, event: 1),
    ])
}

@Test func eventLayoutsPlaceTimeAndID() {
    let cpuClock = EventLayout(attributes: samplingAttributes())
    #expect(cpuClock.sampleTimeOffset == 32)
    #expect(cpuClock.sampleIDOffset == 8)
    #expect(cpuClock.trailerSize == 32)
    #expect(cpuClock.trailerTimeFromEnd == 24)
    #expect(cpuClock.trailerIDFromEnd == 8)

    var attributes = EventAttributes(kind: .cpuClock)
    attributes.flags = [.sampleIDAll]
    attributes.sampleType = [.ip, .tid, .time, .addr, .id, .streamID]
    let withID = EventLayout(attributes: attributes)
    #expect(withID.sampleTimeOffset == 24)
    #expect(withID.sampleIDOffset == 40)
    #expect(withID.trailerSize == 32)
    #expect(withID.trailerTimeFromEnd == 24)
    #expect(withID.trailerIDFromEnd == 16)

    attributes.flags = []
    attributes.sampleType = [.ip, .tid]
    let bare = EventLayout(attributes: attributes)
    #expect(bare.sampleTimeOffset == nil)
    #expect(bare.sampleIDOffset == nil)
    #expect(bare.trailerSize == 0)
    #expect(bare.trailerTimeFromEnd == nil)
    #expect(bare.trailerIDFromEnd == nil)

    // The times read through a layout, and records too short to hold them.
    let record = sampleRecord(ip: 1, pid: 1, tid: 2, time: 1234, callchain: [])
    record.withUnsafeBytes { #expect(cpuClock.time(ofSample: $0) == 1234) }
    record.prefix(39).withUnsafeBytes { #expect(cpuClock.time(ofSample: UnsafeRawBufferPointer($0)) == nil) }
    guard case .record(let commRecord) = comm(trailerTime: 777) else { return }
    commRecord.withUnsafeBytes { #expect(cpuClock.trailerTime(of: $0) == 777) }
    commRecord.prefix(39).withUnsafeBytes { #expect(cpuClock.trailerTime(of: UnsafeRawBufferPointer($0)) == nil) }
}

/// The pages of the file at `path` mapped into this process now, in bytes (its mapping's Rss
/// in /proc/self/smaps).
private func mappedBytes(of path: String) -> Int {
    let fd = open("/proc/self/smaps", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { break }
        bytes += chunk[..<count]
    }
    var inMapping = false
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        if line.split(separator: " ").count >= 5, let first = line.first, first.isHexDigit, line.contains("-") {
            inMapping = line.hasSuffix(path)
        } else if inMapping, line.hasPrefix("Rss:") {
            return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
        }
    }
    return 0
}

/// Writes `count` samples of about 64 KiB each (times from `times`, a marker after every
/// `round` of them when given), reads every page of each record handed on, and returns the
/// times handed on and the most of the file that was mapped at once.
private func readLargeFile(count: Int, round: Int?, time: (Int) -> UInt64, name: String = #function) throws -> (times: [UInt64], peak: Int) {
    let path = "/tmp/perch-timeorder-\(getpid())-\(name.prefix { $0.isLetter }).data"
    defer { unlink(path) }
    var items: [Item] = []
    for index in 0..<count {
        items.append(.record(sampleRecord(ip: 0x1000, pid: 1, tid: 2, time: time(index), callchain: Array(repeating: 0x2000, count: 8100))))
        if let round, index % round == round - 1 { items.append(.finishedRound) }
    }
    _ = try SyntheticPerfData.write(items, to: path, events: SyntheticPerfData.samplingEvents)
    let file = try PerfDataFile(path: path)
    var times: [UInt64] = []
    var peak = 0
    var sum: UInt8 = 0
    try TimeOrderedRecords(file: file).forEach { record in
        for offset in stride(from: 0, to: record.bytes.count, by: 4096) { sum &+= record.bytes[offset] }
        times.append(record.time)
        if times.count % 32 == 0 { peak = max(peak, mappedBytes(of: path)) }
    }
    #expect(sum == sum)
    return (times, peak)
}

@Test func aLargeFileWithoutMarkersStaysMappedOnlyAsFarAsTheWaitingHold() throws {
    // 3,200 records of 64 KiB (200 MiB), all waiting for the end: the scan releases them
    // once they lie waitingHold behind, and the final hand-on (in file order but for pairs
    // swapped) reads them back and releases them behind it.
    let count = 3200
    let result = try readLargeFile(count: count, round: nil) { UInt64($0 ^ 1) + 1 }
    #expect(result.times == (1...UInt64(count)).map { $0 }, "records not in time order")
    #expect(result.peak > 0)
    #expect(result.peak < TimeOrderedRecords.waitingHold + 32 << 20, "mapped at most \(result.peak >> 20) MiB of a 200 MiB file")
}

@Test func roundsLongerThanTheHoldAreReleasedAgainOnceHandedOn() throws {
    // Rounds of 1,200 records of 64 KiB (75 MiB, more than waitingHold): the scan releases
    // records of a round still waiting, the round is read back when handed on at the marker
    // after the next, and released again.
    let count = 3600
    let result = try readLargeFile(count: count, round: 1200) { UInt64($0 / 1200 * 1200 + 1200 - $0 % 1200) }
    #expect(result.times == (1...UInt64(count)).map { $0 }, "records not in time order")
    #expect(result.peak > 0)
    #expect(result.peak < TimeOrderedRecords.waitingHold + 32 << 20, "mapped at most \(result.peak >> 20) MiB of a 220 MiB file")
}
