
/// The events of one recording and the ids the kernel gave them.
public struct EventDescription: Sendable {
    public var attributes: EventAttributes
    public var ids: [UInt64]
    /// The name perf shows, e.g. `cpu-clock`.
    public var name: String

    public init(attributes: EventAttributes, ids: [UInt64], name: String? = nil) {
        self.attributes = attributes
        self.ids = ids
        self.name = name ?? attributes.kind.description
    }
}

/// Decodes raw records into ``Record`` values, following each event's `sample_type`.
///
/// Decoding never allocates: every array or string field is a view into the record's bytes.
public struct RecordDecoder: Sendable {
    public let events: [EventDescription]
    private let indexByID: [UInt64: Int]
    /// All events share one sample layout (the usual case).
    private let uniformLayout: Bool
    /// Where the event id sits, from the first event's layout (every event's, when uniform).
    private let idLayout: EventLayout

    public init(events: [EventDescription]) {
        precondition(!events.isEmpty, "a decoder needs at least one event")
        self.events = events
        var index: [UInt64: Int] = [:]
        for (position, event) in events.enumerated() {
            for id in event.ids { index[id] = position }
        }
        indexByID = index
        let first = events[0].attributes
        idLayout = EventLayout(attributes: first)
        uniformLayout = events.allSatisfy {
            $0.attributes.sampleType == first.sampleType && $0.attributes.readFormat == first.readFormat
                && $0.attributes.sampleRegsUser == first.sampleRegsUser && $0.attributes.flags.contains(.sampleIDAll) == first.flags.contains(.sampleIDAll)
                && $0.attributes.sampleRegsIntr == first.sampleRegsIntr && $0.attributes.branchSampleType == first.branchSampleType
        }
    }

    /// The event a record belongs to (index into ``events``): found by the id a SAMPLE carries
    /// (`PERF_SAMPLE_IDENTIFIER` or `PERF_SAMPLE_ID`) or, for other records, its `sample_id_all`
    /// trailer. perf writes `ID` alone when its events share one layout (`-e cpu-clock,page-faults`).
    public func eventIndex(of bytes: UnsafeRawBufferPointer) -> Int {
        guard events.count > 1, bytes.count >= 16 else { return 0 }
        // Without an identifier in every record, only a shared layout says where the id is.
        guard uniformLayout || events[0].attributes.sampleType.contains(.identifier) else { return 0 }
        let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
        let at: Int
        if type == RecordType.sample.rawValue {
            guard let offset = idLayout.sampleIDOffset else { return 0 }
            at = offset
        } else {
            guard let fromEnd = idLayout.trailerIDFromEnd, bytes.count >= 8 + idLayout.trailerSize else { return 0 }
            at = bytes.count - fromEnd
        }
        guard at >= 8, at + 8 <= bytes.count else { return 0 }
        return indexByID[UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))] ?? 0
    }

    /// The record type without decoding the rest.
    @inlinable
    public static func type(of bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
    }

    /// Decodes one record: `bytes` is exactly the record, header included.
    public func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordError) -> Record {
        guard bytes.count >= 8 else { throw .badSize(type: 0, size: bytes.count) }
        let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
        let misc = RecordMisc(rawValue: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        let size = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        guard size >= 8, size <= bytes.count else { throw .badSize(type: type, size: size) }
        let record = UnsafeRawBufferPointer(rebasing: bytes[0..<size])
        let attributes = events[eventIndex(of: record)].attributes

        guard let kind = RecordType(rawValue: type) else { return .other(type: type) }
        var reader = ByteReader(record, type: type)
        switch kind {
        case .sample:
            return .sample(try decodeSample(&reader, misc: misc, attributes: attributes))
        case .mmap, .mmap2:
            let sampleID = try trailer(record, attributes: attributes)
            let pid = Int32(bitPattern: try reader.u32())
            let tid = Int32(bitPattern: try reader.u32())
            var mmap = MmapRecord(misc: misc, pid: pid, tid: tid, start: try reader.u64(), length: try reader.u64(),
                                  pageOffset: try reader.u64(), filenameBytes: UnsafeRawBufferPointer(start: nil, count: 0),
                                  sampleID: sampleID)
            if kind == .mmap2 {
                if misc.contains(.mmapBuildID) {
                    let buildIDSize = Int(try reader.peekByte())
                    let ids = try reader.slice(24)
                    mmap.buildID = UnsafeRawBufferPointer(rebasing: ids[4..<4 + min(buildIDSize, 20)])
                } else {
                    mmap.major = try reader.u32()
                    mmap.minor = try reader.u32()
                    mmap.inode = try reader.u64()
                    _ = try reader.u64()  // inode generation
                }
                mmap.protection = try reader.u32()
                mmap.flags = try reader.u32()
            }
            mmap.filenameBytes = try cString(record, from: reader.offset, end: size - attributes.sampleIDSize, type: type)
            return .mmap(mmap)
        case .comm:
            let sampleID = try trailer(record, attributes: attributes)
            let pid = Int32(bitPattern: try reader.u32())
            let tid = Int32(bitPattern: try reader.u32())
            let name = try cString(record, from: reader.offset, end: size - attributes.sampleIDSize, type: type)
            return .comm(CommRecord(pid: pid, tid: tid, nameBytes: name, isExec: misc.contains(.commExec), sampleID: sampleID))
        case .fork, .exit:
            let sampleID = try trailer(record, attributes: attributes)
            let task = TaskRecord(pid: Int32(bitPattern: try reader.u32()), parentPID: Int32(bitPattern: try reader.u32()),
                                  tid: Int32(bitPattern: try reader.u32()), parentTID: Int32(bitPattern: try reader.u32()),
                                  time: try reader.u64(), sampleID: sampleID)
            return kind == .fork ? .fork(task) : .exit(task)
        case .lost:
            let sampleID = try trailer(record, attributes: attributes)
            return .lost(id: try reader.u64(), count: try reader.u64(), sampleID: sampleID)
        case .lostSamples:
            let sampleID = try trailer(record, attributes: attributes)
            return .lostSamples(count: try reader.u64(), sampleID: sampleID)
        case .throttle, .unthrottle:
            let sampleID = try trailer(record, attributes: attributes)
            let time = try reader.u64()
            let id = try reader.u64()
            return kind == .throttle ? .throttle(time: time, id: id, sampleID: sampleID)
                : .unthrottle(time: time, id: id, sampleID: sampleID)
        case .switchThread, .switchCPUWide:
            let sampleID = try trailer(record, attributes: attributes)
            var record = SwitchRecord(isOut: misc.contains(.switchOut), isPreempt: misc.contains(.switchOutPreempt), sampleID: sampleID)
            if kind == .switchCPUWide {
                record.otherPID = Int32(bitPattern: try reader.u32())
                record.otherTID = Int32(bitPattern: try reader.u32())
            }
            return .contextSwitch(record)
        case .finishedRound:
            return .finishedRound
        default:
            return .other(type: type)
        }
    }

    /// Decodes a record known to be a `PERF_RECORD_SAMPLE`, without wrapping it in ``Record``
    /// (the hot path of reports: no copy of the enum payload).
    public func decodeSample(_ bytes: UnsafeRawBufferPointer) throws(RecordError) -> SampleRecord {
        guard bytes.count >= 8 else { throw .badSize(type: 0, size: bytes.count) }
        let type = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
        let misc = RecordMisc(rawValue: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)))
        let size = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        guard type == RecordType.sample.rawValue, size >= 8, size <= bytes.count else { throw .badSize(type: type, size: size) }
        let record = UnsafeRawBufferPointer(rebasing: bytes[0..<size])
        var reader = ByteReader(record, type: type)
        return try decodeSample(&reader, misc: misc, attributes: events[eventIndex(of: record)].attributes)
    }

    /// The `sample_id_all` fields at the end of a non-sample record.
    public func trailer(_ record: UnsafeRawBufferPointer, attributes: EventAttributes) throws(RecordError) -> SampleID {
        var id = SampleID()
        let size = attributes.sampleIDSize
        guard size > 0 else { return id }
        let type = UInt32(littleEndian: record.loadUnaligned(as: UInt32.self))
        guard record.count >= 8 + size else { throw .truncated(type: type, size: record.count, needed: 8 + size) }
        var reader = ByteReader(record, type: type, offset: record.count - size)
        let sampleType = attributes.sampleType
        if sampleType.contains(.tid) {
            id.pid = Int32(bitPattern: try reader.u32())
            id.tid = Int32(bitPattern: try reader.u32())
        }
        if sampleType.contains(.time) { id.time = try reader.u64(); id.hasTime = true }
        if sampleType.contains(.id) { id.id = try reader.u64() }
        if sampleType.contains(.streamID) { id.streamID = try reader.u64() }
        if sampleType.contains(.cpu) { id.cpu = try reader.u32(); _ = try reader.u32() }
        if sampleType.contains(.identifier) { id.id = try reader.u64() }
        return id
    }

    private func decodeSample(_ reader: inout ByteReader, misc: RecordMisc, attributes: EventAttributes) throws(RecordError) -> SampleRecord {
        let type = attributes.sampleType
        var sample = SampleRecord(misc: misc)
        if type.contains(.identifier) { sample.id = try reader.u64() }
        if type.contains(.ip) { sample.ip = try reader.u64() }
        if type.contains(.tid) {
            sample.pid = Int32(bitPattern: try reader.u32())
            sample.tid = Int32(bitPattern: try reader.u32())
        }
        if type.contains(.time) { sample.time = try reader.u64() }
        if type.contains(.addr) { sample.address = try reader.u64() }
        if type.contains(.id) { sample.id = try reader.u64() }
        if type.contains(.streamID) { sample.streamID = try reader.u64() }
        if type.contains(.cpu) { sample.cpu = try reader.u32(); _ = try reader.u32() }
        if type.contains(.period) { sample.period = try reader.u64() }
        if type.contains(.read) { try skipReadValues(&reader, format: attributes.readFormat) }
        if type.contains(.callchain) {
            sample.callchain = WordArray(try reader.slice(items: try reader.u64(), of: 8))
        }
        if type.contains(.raw) {
            sample.raw = try reader.slice(items: UInt64(try reader.u32()), of: 1)
        }
        if type.contains(.branchStack) {
            let count = try reader.u64()
            let hardwareIndex: UInt64 = 1 << 17, counters: UInt64 = 1 << 19
            if attributes.branchSampleType & hardwareIndex != 0 { _ = try reader.u64() }
            try reader.skip(items: count, of: 24)
            if attributes.branchSampleType & counters != 0 { try reader.skip(items: count, of: 8) }
        }
        if type.contains(.regsUser) {
            sample.userRegisterABI = try reader.u64()
            if sample.userRegisterABI != 0 {
                sample.userRegisters = WordArray(try reader.slice(attributes.sampleRegsUser.nonzeroBitCount * 8))
            }
        }
        if type.contains(.stackUser) {
            let data = try reader.slice(items: try reader.u64(), of: 1)
            if !data.isEmpty {
                let filled = try reader.u64()
                sample.userStack = UnsafeRawBufferPointer(rebasing: data[0..<Int(min(filled, UInt64(data.count)))])
            }
        }
        if type.contains(.weight) || type.contains(.weightStruct) { sample.weight = try reader.u64() }
        if type.contains(.dataSource) { _ = try reader.u64() }
        if type.contains(.transaction) { _ = try reader.u64() }
        if type.contains(.regsIntr) {
            let abi = try reader.u64()
            if abi != 0 { try reader.skip(attributes.sampleRegsIntr.nonzeroBitCount * 8) }
        }
        if type.contains(.physAddr) { _ = try reader.u64() }
        if type.contains(.cgroup) { sample.cgroup = try reader.u64() }
        if type.contains(.dataPageSize) { _ = try reader.u64() }
        if type.contains(.codePageSize) { _ = try reader.u64() }
        if type.contains(.aux) {
            try reader.skip(items: try reader.u64(), of: 1)
        }
        return sample
    }

    private func skipReadValues(_ reader: inout ByteReader, format: ReadFormat) throws(RecordError) {
        let perValue = 1 + (format.contains(.id) ? 1 : 0) + (format.contains(.lost) ? 1 : 0)
        if format.contains(.group) {
            let count = try reader.u64()
            if format.contains(.totalTimeEnabled) { _ = try reader.u64() }
            if format.contains(.totalTimeRunning) { _ = try reader.u64() }
            try reader.skip(items: count, of: perValue * 8)
        } else {
            _ = try reader.u64()
            if format.contains(.totalTimeEnabled) { _ = try reader.u64() }
            if format.contains(.totalTimeRunning) { _ = try reader.u64() }
            try reader.skip((perValue - 1) * 8)
        }
    }

    private func cString(_ record: UnsafeRawBufferPointer, from start: Int, end: Int, type: UInt32) throws(RecordError) -> UnsafeRawBufferPointer {
        guard start <= end, end <= record.count else { throw .truncated(type: type, size: record.count, needed: start) }
        var stop = start
        while stop < end, record[stop] != 0 { stop += 1 }
        return UnsafeRawBufferPointer(rebasing: record[start..<stop])
    }
}
