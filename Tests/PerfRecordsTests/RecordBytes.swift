import PerfEvents
@testable import PerfRecords

/// Builds raw records byte by byte, as the kernel lays them out.
struct RecordBytes {
    var bytes: [UInt8] = []

    init(type: RecordType, misc: UInt16 = 0) {
        self.init(rawType: type.rawValue, misc: misc)
    }

    init(rawType: UInt32, misc: UInt16 = 0) {
        append(rawType)
        append(misc)
        append(UInt16(0))  // size, fixed by `finished`
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func appendString(_ string: String) {
        bytes.append(contentsOf: Array(string.utf8) + [0])
        while bytes.count % 8 != 0 { bytes.append(0) }
    }

    /// The record with its size field set (or forced to `size`).
    func finished(size: Int? = nil) -> [UInt8] {
        var copy = bytes
        let value = UInt16(size ?? copy.count)
        copy[6] = UInt8(value & 0xff)
        copy[7] = UInt8(value >> 8)
        return copy
    }
}

func samplingAttributes() -> EventAttributes {
    var attributes = EventAttributes(kind: .cpuClock)
    attributes.samplePeriodOrFrequency = 4000
    attributes.flags = [.frequency, .sampleIDAll, .mmap2, .comm]
    attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period, .callchain]
    return attributes
}

/// A SAMPLE for `samplingAttributes()` with the given call chain.
func sampleRecord(ip: UInt64, pid: Int32, tid: Int32, time: UInt64, callchain: [UInt64]) -> [UInt8] {
    var record = RecordBytes(type: .sample, misc: 2)
    record.append(UInt64(7))  // identifier
    record.append(ip)
    record.append(UInt32(bitPattern: pid))
    record.append(UInt32(bitPattern: tid))
    record.append(time)
    record.append(UInt64(1))  // cpu 1, reserved 0
    record.append(UInt64(250_000))  // period
    record.append(UInt64(callchain.count))
    for address in callchain { record.append(address) }
    return record.finished()
}

/// The sample_id_all trailer for `samplingAttributes()`.
func appendTrailer(_ record: inout RecordBytes, pid: Int32, tid: Int32, time: UInt64) {
    record.append(UInt32(bitPattern: pid))
    record.append(UInt32(bitPattern: tid))
    record.append(time)
    record.append(UInt64(0))  // cpu
    record.append(UInt64(7))  // identifier
}
