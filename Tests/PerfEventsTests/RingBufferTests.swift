import Testing
import TestSupport
import Glibc
@testable import PerfEvents
import PerfABI

/// Writes records into a fake 64-byte data area the way the kernel does (wrapping at the end).
private func ring(records: [[UInt8]], startingAt tail: UInt64, size: Int = 64) -> (data: [UInt8], head: UInt64) {
    var data = [UInt8](repeating: 0xee, count: size)
    var head = tail
    for record in records {
        for byte in record {
            data[Int(head % UInt64(size))] = byte
            head += 1
        }
    }
    return (data, head)
}

private func record(type: UInt32, words: [UInt64]) -> [UInt8] {
    var record = RecordBytes(rawType: type)
    for word in words { record.append(word) }
    return record.finished()
}

@Test func recordsThatWrapTheEndAreCopiedOutWhole() {
    let first = record(type: 9, words: [1, 2, 3])       // 32 bytes at 40..<72: wraps
    let second = record(type: 9, words: [4, 5])          // 24 bytes
    let (data, head) = ring(records: [first, second], startingAt: 40)
    var cursor = RecordCursor()
    var seen: [[UInt8]] = []
    let consumed = data.withUnsafeBytes { buffer in
        cursor.forEachRecord(in: buffer, tail: 40, head: head) { seen.append(Array($0)) }
    }
    #expect(seen == [first, second])
    #expect(consumed == 56)
}

@Test func incompleteRecordsWaitAndCorruptHeadersSkipToHead() {
    let whole = record(type: 9, words: [1])
    let (data, head) = ring(records: [whole, record(type: 9, words: [7, 7, 7])], startingAt: 0)
    var cursor = RecordCursor()
    var count = 0
    // The kernel has published only part of the second record.
    let consumed = data.withUnsafeBytes { cursor.forEachRecord(in: $0, tail: 0, head: head - 8) { _ in count += 1 } }
    #expect(count == 1 && consumed == 16)

    var corrupt = data
    corrupt[16 + 6] = 3  // size 3: impossible
    let skipped = corrupt.withUnsafeBytes { cursor.forEachRecord(in: $0, tail: 16, head: head) { _ in count += 1 } }
    #expect(skipped == Int(head - 16))
    #expect(cursor.corruptRecords == 1)
}

@Test func aCountingEventCountsOnTheRealKernel() throws {
    var attributes = EventAttributes(kind: .taskClock)
    attributes.flags = [.disabled, .excludeKernel, .excludeHypervisor]
    attributes.readFormat = [.totalTimeEnabled, .totalTimeRunning]
    let event = try PerfEvent(attributes: attributes, pid: 0, cpu: -1)
    try event.reset()
    try event.enable()
    var x: UInt64 = 1
    for i in 0..<5_000_000 { x = x &* 31 &+ UInt64(i) }
    try event.disable()
    let count = try event.readCount()
    #expect(x != 0)
    #expect(count.value > 1_000_000, "task-clock counts nanoseconds of the loop")
    #expect(count.timeEnabled >= count.timeRunning && count.timeRunning > 0)
    #expect(try event.id() > 0)
}

@Test func openingAnImpossibleEventNamesTheAttributeAndErrno() {
    var attributes = EventAttributes(kind: .other(type: 0xdead, config: 0))
    attributes.flags = [.disabled]
    #expect {
        try PerfEvent(attributes: attributes, pid: 0, cpu: -1)
    } throws: { error in
        guard let error = error as? PerfEventError else { return false }
        return error.errno != 0 && "\(error)".contains("perf_event_open failed") && error.attributes != nil
    }
}
