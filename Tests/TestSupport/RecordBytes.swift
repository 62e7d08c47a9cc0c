import PerfABI

/// The encoder every test builds records with: PerfABI's, with the typed builders below.
public typealias RecordBytes = RecordEncoder

extension RecordEncoder {
    /// The `sample_id_all` trailer of `id`, with the fields `attributes.sampleType` selects.
    public mutating func appendTrailer(_ id: SampleID, for attributes: EventAttributes = samplingAttributes()) {
        appendTrailer(pid: id.pid, tid: id.tid, time: id.time, id: id.id, streamID: id.streamID, cpu: id.cpu,
                      sampleType: attributes.sampleType)
    }
}

/// The `sample_id_all` fields of a non-sample record (also the id fields of a sample): which of
/// them are written depends on the event's `sampleType`. `id` serves both ID and IDENTIFIER.
public struct SampleID: Sendable {
    public var pid: Int32
    public var tid: Int32
    public var time: UInt64
    public var cpu: UInt32
    public var id: UInt64
    public var streamID: UInt64

    public init(pid: Int32 = 0, tid: Int32 = 0, time: UInt64 = 0, cpu: UInt32 = 0, id: UInt64 = 7, streamID: UInt64 = 0) {
        self.pid = pid
        self.tid = tid
        self.time = time
        self.cpu = cpu
        self.id = id
        self.streamID = streamID
    }
}

/// The cpu-clock event most tests record: frequency 4000, sample_id_all, MMAP2 and COMM, and
/// samples of identifier, ip, tid, time, cpu, period and call chain.
public func samplingAttributes() -> EventAttributes {
    var attributes = EventAttributes(kind: .cpuClock)
    attributes.samplePeriodOrFrequency = 4000
    attributes.flags = [.frequency, .sampleIDAll, .mmap2, .comm]
    attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period, .callchain]
    return attributes
}

/// A SAMPLE for `samplingAttributes()` (identifier 7, cpu 1, period 250000) with the given call chain.
public func sampleRecord(ip: UInt64, pid: Int32, tid: Int32, time: UInt64, callchain: [UInt64]) -> [UInt8] {
    RecordBytes.sample(ip: ip, id: SampleID(pid: pid, tid: tid, time: time, cpu: 1), period: 250_000, callchain: callchain)
}

// MARK: - Typed builders: one per record type the tests write. `trailer: nil` writes none.

extension RecordEncoder {
    /// A SAMPLE with the fields `attributes.sampleType` selects, in the kernel's order (identifier,
    /// ip, tid, time, addr, id, stream id, cpu, period, call chain). Misc 2: user mode.
    public static func sample(
        ip: UInt64 = 0, id: SampleID, addr: UInt64 = 0, period: UInt64 = 1, callchain: [UInt64] = [],
        attributes: EventAttributes = samplingAttributes(), misc: UInt16 = 2
    ) -> [UInt8] {
        let type = attributes.sampleType
        let supported: SampleType = [.identifier, .ip, .tid, .time, .addr, .id, .streamID, .cpu, .period, .callchain]
        precondition(type.subtracting(supported).isEmpty, "RecordBytes.sample: unsupported sample_type \(type)")
        var record = RecordBytes(type: .sample, misc: misc)
        if type.contains(.identifier) { record.append(id.id) }
        if type.contains(.ip) { record.append(ip) }
        if type.contains(.tid) { record.append(UInt32(bitPattern: id.pid)); record.append(UInt32(bitPattern: id.tid)) }
        if type.contains(.time) { record.append(id.time) }
        if type.contains(.addr) { record.append(addr) }
        if type.contains(.id) { record.append(id.id) }
        if type.contains(.streamID) { record.append(id.streamID) }
        if type.contains(.cpu) { record.append(id.cpu); record.append(UInt32(0)) }
        if type.contains(.period) { record.append(period) }
        if type.contains(.callchain) {
            record.append(UInt64(callchain.count))
            for address in callchain { record.append(address) }
        }
        return record.finished()
    }

    /// PERF_RECORD_MMAP2 (device and inode form). Misc 2: user mode.
    public static func mmap2(
        pid: Int32, tid: Int32, start: UInt64, length: UInt64, pageOffset: UInt64 = 0,
        major: UInt32 = 0, minor: UInt32 = 0, inode: UInt64 = 0, generation: UInt64 = 0,
        protection: UInt32 = 5, flags: UInt32 = 2, filename: String,
        misc: UInt16 = 2, trailer: SampleID? = nil, attributes: EventAttributes = samplingAttributes()
    ) -> [UInt8] {
        var record = RecordBytes(type: .mmap2, misc: misc)
        record.append(UInt32(bitPattern: pid)); record.append(UInt32(bitPattern: tid))
        record.append(start); record.append(length); record.append(pageOffset)
        record.append(major); record.append(minor); record.append(inode); record.append(generation)
        record.append(protection); record.append(flags)
        record.appendString(filename)
        if let trailer { record.appendTrailer(trailer, for: attributes) }
        return record.finished()
    }

    /// PERF_RECORD_COMM; `exec` sets the exec misc bit.
    public static func comm(
        pid: Int32, tid: Int32, name: String, exec: Bool = false,
        trailer: SampleID? = nil, attributes: EventAttributes = samplingAttributes()
    ) -> [UInt8] {
        var record = RecordBytes(type: .comm, misc: exec ? RecordMisc.commExec.rawValue : 0)
        record.append(UInt32(bitPattern: pid)); record.append(UInt32(bitPattern: tid))
        record.appendString(name)
        if let trailer { record.appendTrailer(trailer, for: attributes) }
        return record.finished()
    }

    /// PERF_RECORD_FORK.
    public static func fork(
        pid: Int32, parentPID: Int32, tid: Int32, parentTID: Int32, time: UInt64,
        trailer: SampleID? = nil, attributes: EventAttributes = samplingAttributes()
    ) -> [UInt8] {
        task(.fork, pid: pid, parentPID: parentPID, tid: tid, parentTID: parentTID, time: time, trailer: trailer, attributes: attributes)
    }

    /// PERF_RECORD_EXIT (FORK's layout).
    public static func exit(
        pid: Int32, parentPID: Int32, tid: Int32, parentTID: Int32, time: UInt64,
        trailer: SampleID? = nil, attributes: EventAttributes = samplingAttributes()
    ) -> [UInt8] {
        task(.exit, pid: pid, parentPID: parentPID, tid: tid, parentTID: parentTID, time: time, trailer: trailer, attributes: attributes)
    }

    private static func task(
        _ type: RecordType, pid: Int32, parentPID: Int32, tid: Int32, parentTID: Int32, time: UInt64,
        trailer: SampleID?, attributes: EventAttributes
    ) -> [UInt8] {
        var record = RecordBytes(type: type)
        record.append(UInt32(bitPattern: pid)); record.append(UInt32(bitPattern: parentPID))
        record.append(UInt32(bitPattern: tid)); record.append(UInt32(bitPattern: parentTID))
        record.append(time)
        if let trailer { record.appendTrailer(trailer, for: attributes) }
        return record.finished()
    }

    /// PERF_RECORD_SWITCH: in, or out (preempted or not). Carries only its trailer.
    public static func switchThread(
        out: Bool, preempted: Bool = false, trailer: SampleID?, attributes: EventAttributes = samplingAttributes()
    ) -> [UInt8] {
        var misc: RecordMisc = []
        if out { misc.insert(.switchOut) }
        if preempted { misc.insert(.switchOutPreempt) }
        var record = RecordBytes(type: .switchThread, misc: misc.rawValue)
        if let trailer { record.appendTrailer(trailer, for: attributes) }
        return record.finished()
    }

    /// PERF_RECORD_LOST: `count` records of event `id` lost.
    public static func lost(
        id: UInt64 = 7, count: UInt64, trailer: SampleID? = nil, attributes: EventAttributes = samplingAttributes()
    ) -> [UInt8] {
        var record = RecordBytes(type: .lost)
        record.append(id); record.append(count)
        if let trailer { record.appendTrailer(trailer, for: attributes) }
        return record.finished()
    }

    /// PERF_RECORD_FINISHED_ROUND: a header alone.
    public static func finishedRound() -> [UInt8] {
        RecordBytes(type: .finishedRound).finished()
    }
}
