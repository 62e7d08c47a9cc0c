extension Array where Element == UInt8 {
    /// Appends an integer's bytes in little-endian order (how records and perf.data lay them out).
    public mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Builds one raw record as the kernel lays it out: the header, then the fields in order, then
/// the `sample_id_all` trailer. The one encoder behind the records Perch synthesizes (COMM and
/// MMAP for what existed before a recording), the test fixtures and the benchmarks' inputs.
public struct RecordEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    /// Starts a record of `type`; the size is set by ``finished(size:)``.
    public init(type: RecordType, misc: UInt16 = 0) {
        self.init(rawType: type.rawValue, misc: misc)
    }

    public init(rawType: UInt32, misc: UInt16 = 0) {
        bytes.reserveCapacity(64)
        append(rawType)
        append(misc)
        append(UInt16(0))
    }

    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        bytes.append(littleEndian: value)
    }

    /// A NUL-terminated string padded with zeros to a multiple of 8 bytes (COMM, MMAP, MMAP2);
    /// at most 4,000 bytes of it, so the record stays within its 16-bit size.
    public mutating func appendString(_ string: String) {
        bytes.append(contentsOf: string.utf8.prefix(4000))
        bytes.append(0)
        while bytes.count % 8 != 0 { bytes.append(0) }
    }

    /// The `sample_id_all` trailer: the fields `sampleType` selects, in the kernel's order
    /// (tid, time, id, stream id, cpu, identifier).
    public mutating func appendTrailer(
        pid: Int32, tid: Int32, time: UInt64 = 0, id: UInt64, streamID: UInt64, cpu: UInt32 = 0, sampleType: SampleType
    ) {
        if sampleType.contains(.tid) { append(UInt32(bitPattern: pid)); append(UInt32(bitPattern: tid)) }
        if sampleType.contains(.time) { append(time) }
        if sampleType.contains(.id) { append(id) }
        if sampleType.contains(.streamID) { append(streamID) }
        if sampleType.contains(.cpu) { append(cpu); append(UInt32(0)) }
        if sampleType.contains(.identifier) { append(id) }
    }

    /// The record with its size field set (or forced to `size`, for malformed-input tests).
    public func finished(size: Int? = nil) -> [UInt8] {
        var copy = bytes
        let value = UInt16(truncatingIfNeeded: size ?? copy.count)
        copy[6] = UInt8(value & 0xff)
        copy[7] = UInt8(value >> 8)
        return copy
    }
}
