import PerfABI
/// One record of a perf.data file as ``TimeOrderedRecords`` hands it on.
public struct TimedRecord {
    /// The record, header included: a view into the mapped file, valid only during the call.
    public let bytes: UnsafeRawBufferPointer
    /// The event (index into the file's events) the record belongs to, as
    /// ``RecordDecoder/eventIndex(of:)`` gives it; 0 for records the kernel did not write
    /// (type 64 and above), which belong to no event.
    public let eventIndex: Int
    /// The record's time: a SAMPLE's `PERF_SAMPLE_TIME`, or another kernel record's
    /// `sample_id_all` time when it has one other than 0. A record without a time carries the
    /// latest time of the records before it in the file (0 before any), which is where it was
    /// placed in the order.
    public let time: UInt64
    /// Where the record starts in the file's data section.
    public let offset: Int

    /// The record type (``RecordType`` raw value).
    @inlinable
    public var type: UInt32 { RecordDecoder.type(of: bytes) }
}

/// The records of a perf.data file in timestamp order, in one pass over the file.
///
/// Each record is handed on exactly once, ordered by ``TimedRecord/time``; ties, and records
/// without a time, keep their file order. `PERF_RECORD_FINISHED_ROUND` markers are not handed on.
///
/// Recorders write the rings out in passes and mark each pass's end with FINISHED_ROUND: a
/// record written after a pass's marker has a time no earlier than everything written before
/// the marker of the pass before it (perf's ordered-events rule). So at each marker the records
/// up to the previous pass's latest time are sorted and handed on, while they are still in the
/// cache; the rest wait for the next marker. A file without markers is sorted whole at its end.
/// The file's pages are released behind the records handed on, and behind the scan up to the
/// waiting records (below them too once they lie ``waitingHold`` behind: read again from the
/// page cache when handed on), so memory stays flat however large the file, with or without markers. The file's prefetch thread (``PerfDataFile/forEachRecord(_:)``)
/// keeps mapping pages ahead of the scan.
///
/// ```swift
/// try TimeOrderedRecords(file: file).forEach { record in
///     if record.type == RecordType.sample.rawValue { ... }
/// }
/// ```
public struct TimeOrderedRecords {
    public let file: PerfDataFile
    /// The layout of each of the file's events, worked out once.
    public let layouts: [EventLayout]
    private let decoder: RecordDecoder

    /// Pages are released in steps of this size: behind the scan, and again behind the records
    /// handed on (a waiting record reads its pages back from the page cache).
    static let releaseStep = 4 << 20
    /// The scan releases the pages of records still waiting to be handed on only once they lie
    /// this far behind it (a file with rounds this long, or without markers), so that in
    /// the usual case (rounds well under a MiB) each page is mapped once.
    static let waitingHold = 64 << 20

    public init(file: PerfDataFile) {
        self.file = file
        self.layouts = file.events.map { EventLayout(attributes: $0.attributes) }
        self.decoder = RecordDecoder(events: file.events)
    }

    /// Calls `body` with every record in time order. Each call makes a new pass over the file.
    /// Throws what `body` throws, or the file's `.malformed` error at a record whose size is
    /// impossible (the records due at the markers before it have been handed on by then).
    public func forEach(_ body: (TimedRecord) throws -> Void) throws {
        let file = self.file
        let bytes = file.dataBytes
        let decoder = self.decoder
        let layouts = self.layouts
        let releaseStep = Self.releaseStep
        var waiting: [(time: UInt64, offset: Int)] = []
        var waitingInOrder = true
        var latestTime: UInt64 = 0
        var previousPassLatest: UInt64 = 0
        var released = 0
        var scanned = 0
        /// The lowest offset among the waiting records (Int.max when none wait).
        var lowestWaiting = Int.max

        func eventIndex(of record: UnsafeRawBufferPointer) -> Int {
            RecordDecoder.type(of: record) < 64 ? decoder.eventIndex(of: record) : 0
        }

        func release(below offset: Int) {
            if offset != Int.max, offset - released >= releaseStep {
                file.releaseData(released..<offset)
                released = offset
            }
        }

        func handOn(upTo limit: UInt64?) throws {
            if !waitingInOrder {
                // (time, offset) is a total order, so an unstable sort keeps file order on ties.
                waiting.sort { $0.time != $1.time ? $0.time < $1.time : $0.offset < $1.offset }
                waitingInOrder = true
            }
            var count = 0
            while count < waiting.count, limit.map({ waiting[count].time <= $0 }) ?? true { count += 1 }
            // Below the lowest offset still to come, no record will be read again.
            var lowestAhead = [Int](repeating: Int.max, count: count + 1)
            lowestAhead[count] = waiting[count...].lazy.map(\.offset).min() ?? Int.max
            for index in stride(from: count - 1, through: 0, by: -1) {
                lowestAhead[index] = min(waiting[index].offset, lowestAhead[index + 1])
            }
            for index in 0..<count {
                let (time, offset) = waiting[index]
                let size = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)))
                let record = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
                try body(TimedRecord(bytes: record, eventIndex: eventIndex(of: record), time: time, offset: offset))
                release(below: lowestAhead[index + 1])
            }
            waiting.removeFirst(count)
            lowestWaiting = lowestAhead[count]
        }

        try file.forEachRecord { record, offset in
            let type = RecordDecoder.type(of: record)
            if type == RecordType.finishedRound.rawValue {
                try handOn(upTo: previousPassLatest)
                previousPassLatest = latestTime
                return
            }
            // Behind the scan, but not below a waiting record unless it lies far behind.
            let releasable = offset - lowestWaiting > Self.waitingHold ? offset : min(offset, lowestWaiting)
            if releasable - scanned >= releaseStep {
                file.releaseData(scanned..<releasable)
                scanned = releasable
            }
            var time = latestTime
            if type == RecordType.sample.rawValue {
                if let sampled = layouts[decoder.eventIndex(of: record)].time(ofSample: record) { time = sampled }
            } else if type < 64, let trailer = layouts[decoder.eventIndex(of: record)].trailerTime(of: record), trailer != 0 {
                time = trailer
            }
            if let last = waiting.last, time < last.time { waitingInOrder = false }
            latestTime = max(latestTime, time)
            if waiting.isEmpty { lowestWaiting = offset }
            waiting.append((time, offset))
        }
        try handOn(upTo: nil)
    }
}
