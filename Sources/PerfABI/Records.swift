/// A bounds-checked little-endian reader over one record's bytes. It never allocates.
///
/// This is the one place where numbers from a file or the kernel (counts, sizes) become byte
/// counts and offsets: every conversion and product is checked, and a value that does not fit
/// in what is left of the record throws ``RecordError/truncated(type:size:needed:)`` instead of
/// trapping, so a corrupted record is skipped and counted by its reader.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let type: UInt32
    /// Always within `0...bytes.count`.
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, type: UInt32, offset: Int = 8) {
        self.bytes = bytes
        self.type = type
        self.offset = min(max(offset, 0), bytes.count)
    }

    /// The bytes not yet read.
    @inline(__always)
    var remaining: Int { bytes.count - offset }

    @inline(__always)
    mutating func u64() throws(RecordError) -> UInt64 {
        guard remaining >= 8 else { throw shortBy(8) }
        defer { offset += 8 }
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    mutating func u32() throws(RecordError) -> UInt32 {
        guard remaining >= 4 else { throw shortBy(4) }
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The byte at the current offset, without moving past it.
    mutating func peekByte() throws(RecordError) -> UInt8 {
        guard remaining >= 1 else { throw shortBy(1) }
        return bytes[offset]
    }

    mutating func skip(_ count: Int) throws(RecordError) {
        guard count >= 0, count <= remaining else { throw shortBy(UInt64(max(count, 0))) }
        offset += count
    }

    mutating func slice(_ count: Int) throws(RecordError) -> UnsafeRawBufferPointer {
        let start = offset
        try skip(count)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<start + count])
    }

    /// `count` items of `itemSize` bytes each, as a file gives them: any count, the product
    /// checked against what is left.
    mutating func slice(items count: UInt64, of itemSize: Int) throws(RecordError) -> UnsafeRawBufferPointer {
        try slice(byteCount(items: count, of: itemSize))
    }

    /// Skips `count` items of `itemSize` bytes each (checked as ``slice(items:of:)``).
    mutating func skip(items count: UInt64, of itemSize: Int) throws(RecordError) {
        try skip(byteCount(items: count, of: itemSize))
    }

    /// `count * itemSize` as a byte count that fits in the rest of the record, or the error.
    private func byteCount(items count: UInt64, of itemSize: Int) throws(RecordError) -> Int {
        let (total, overflow) = count.multipliedReportingOverflow(by: UInt64(max(itemSize, 0)))
        guard !overflow, total <= UInt64(remaining) else { throw shortBy(overflow ? .max : total) }
        return Int(total)
    }

    /// The error for a field of `count` bytes at the current offset; `needed` saturates.
    private func shortBy(_ count: UInt64) -> RecordError {
        let (needed, overflow) = UInt64(offset).addingReportingOverflow(count)
        return .truncated(type: type, size: bytes.count, needed: overflow ? .max : Int(clamping: needed))
    }
}

/// A view of the 64-bit words of a call chain (or any u64 array) inside a record.
public struct WordArray: RandomAccessCollection {
    public let bytes: UnsafeRawBufferPointer
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    public static var empty: WordArray { WordArray(UnsafeRawBufferPointer(start: nil, count: 0)) }
    public var startIndex: Int { 0 }
    public var endIndex: Int { bytes.count / 8 }
    public subscript(index: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
    }
}


/// The fields `sample_id_all` appends to non-sample records (and that samples carry too).
public struct SampleID: Sendable, Equatable {
    public var pid: Int32 = -1
    public var tid: Int32 = -1
    public var time: UInt64 = 0
    public var id: UInt64 = 0
    public var streamID: UInt64 = 0
    public var cpu: UInt32 = 0
    public var hasTime = false
    public init() {}
}

/// A `PERF_RECORD_SAMPLE`, decoded per the attribute's `sample_type`. Array fields point into
/// the record's bytes and are valid only as long as they are.
public struct SampleRecord {
    public var misc: RecordMisc
    public var ip: UInt64 = 0
    public var pid: Int32 = -1
    public var tid: Int32 = -1
    public var time: UInt64 = 0
    public var address: UInt64 = 0
    public var id: UInt64 = 0
    public var streamID: UInt64 = 0
    public var cpu: UInt32 = 0
    public var period: UInt64 = 1
    /// Instruction pointers, sampled frame first, with ``CallchainContext`` markers.
    public var callchain = WordArray.empty
    public var raw = UnsafeRawBufferPointer(start: nil, count: 0)
    /// `PERF_SAMPLE_REGS_USER`: the ABI (0 = none) and the registers selected by `sample_regs_user`.
    public var userRegisterABI: UInt64 = 0
    public var userRegisters = WordArray.empty
    /// `PERF_SAMPLE_STACK_USER`: the copied bytes actually filled (`dyn_size` of them).
    public var userStack = UnsafeRawBufferPointer(start: nil, count: 0)
    public var weight: UInt64 = 0
    public var cgroup: UInt64 = 0
    public init(misc: RecordMisc) { self.misc = misc }
}

/// `PERF_RECORD_MMAP` or `PERF_RECORD_MMAP2`.
public struct MmapRecord {
    public var misc: RecordMisc
    public var pid: Int32
    public var tid: Int32
    public var start: UInt64
    public var length: UInt64
    public var pageOffset: UInt64
    /// MMAP2 with `PERF_RECORD_MISC_MMAP_BUILD_ID`: the build id bytes.
    public var buildID: UnsafeRawBufferPointer?
    public var major: UInt32 = 0
    public var minor: UInt32 = 0
    public var inode: UInt64 = 0
    public var protection: UInt32 = 0
    public var flags: UInt32 = 0
    /// The file name bytes, without the NUL padding.
    public var filenameBytes: UnsafeRawBufferPointer
    public var sampleID: SampleID

    /// PROT_EXEC was set (always true for MMAP records, which only describe executable maps).
    public var isExecutable: Bool { !misc.contains(.mmapData) }
    public var filename: String { String(decoding: filenameBytes, as: UTF8.self) }
}

/// `PERF_RECORD_COMM`.
public struct CommRecord {
    public var pid: Int32
    public var tid: Int32
    public var nameBytes: UnsafeRawBufferPointer
    public var isExec: Bool
    public var sampleID: SampleID
    public var name: String { String(decoding: nameBytes, as: UTF8.self) }
}

/// `PERF_RECORD_FORK` and `PERF_RECORD_EXIT`.
public struct TaskRecord {
    public var pid: Int32
    public var parentPID: Int32
    public var tid: Int32
    public var parentTID: Int32
    public var time: UInt64
    public var sampleID: SampleID
}

/// `PERF_RECORD_SWITCH` and `PERF_RECORD_SWITCH_CPU_WIDE`.
public struct SwitchRecord {
    public var isOut: Bool
    public var isPreempt: Bool
    /// CPU-wide records: the task switched to (out) or from (in); -1 otherwise.
    public var otherPID: Int32 = -1
    public var otherTID: Int32 = -1
    public var sampleID: SampleID
}

/// A decoded record. Payloads point into the record's bytes.
public enum Record {
    case sample(SampleRecord)
    case mmap(MmapRecord)
    case comm(CommRecord)
    case fork(TaskRecord)
    case exit(TaskRecord)
    /// The kernel dropped `count` records (ring buffer full).
    case lost(id: UInt64, count: UInt64, sampleID: SampleID)
    /// `PERF_RECORD_LOST_SAMPLES`.
    case lostSamples(count: UInt64, sampleID: SampleID)
    case throttle(time: UInt64, id: UInt64, sampleID: SampleID)
    case unthrottle(time: UInt64, id: UInt64, sampleID: SampleID)
    case contextSwitch(SwitchRecord)
    case finishedRound
    /// Anything else: skipped by its size.
    case other(type: UInt32)
}
