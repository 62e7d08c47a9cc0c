/// A typed `struct perf_event_attr`.
///
/// Perch builds the kernel's structure from this value byte by byte (see ``encoded()``), and
/// reads it back from perf.data files of any attribute size (see ``init(bytes:)``), so the same
/// type describes what Perch opens and what another tool recorded.
public struct EventAttributes: Hashable, Sendable {
    /// The size Perch writes (`PERF_ATTR_SIZE_VER7`); the kernel accepts it since 6.0 and
    /// older kernels accept it as long as the newer fields are zero.
    public static let encodedSize = 128

    public var kind: EventKind
    /// A sample period, or a frequency in Hz when `flags` contains `.frequency`.
    public var samplePeriodOrFrequency: UInt64 = 0
    public var sampleType: SampleType = []
    public var readFormat: ReadFormat = []
    public var flags: AttributeFlags = []
    /// 0 to 3; how exact the sampled IP must be. Always 0 for software events.
    public var preciseIP: UInt8 = 0
    /// Wake the reader after this many events, or this many bytes when `.watermark` is set.
    public var wakeup: UInt32 = 0
    public var bpType: UInt32 = 0
    public var config1: UInt64 = 0
    public var config2: UInt64 = 0
    public var branchSampleType: UInt64 = 0
    public var sampleRegsUser: UInt64 = 0
    public var sampleStackUser: UInt32 = 0
    public var clockID: Int32 = 0
    public var sampleRegsIntr: UInt64 = 0
    public var auxWatermark: UInt32 = 0
    public var sampleMaxStack: UInt16 = 0
    public var auxSampleSize: UInt32 = 0
    public var sigData: UInt64 = 0

    public init(kind: EventKind) {
        self.kind = kind
    }

    /// The sampling frequency in Hz, or nil when sampling by period.
    public var frequency: UInt64? {
        flags.contains(.frequency) ? samplePeriodOrFrequency : nil
    }

    /// The sampling period, or nil when sampling by frequency.
    public var period: UInt64? {
        flags.contains(.frequency) ? nil : samplePeriodOrFrequency
    }

    /// The number of bytes `sample_id_all` appends to non-sample records.
    public var sampleIDSize: Int {
        guard flags.contains(.sampleIDAll) else { return 0 }
        let fields: [SampleType] = [.tid, .time, .id, .streamID, .cpu, .identifier]
        return fields.reduce(0) { sampleType.contains($1) ? $0 + 8 : $0 }
    }

    /// The structure as the kernel lays it out (little-endian x86_64 / aarch64).
    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.encodedSize)
        bytes.withUnsafeMutableBytes { raw in
            func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
                raw.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
            }
            put(kind.typeNumber, 0)
            put(UInt32(Self.encodedSize), 4)
            put(kind.config, 8)
            put(samplePeriodOrFrequency, 16)
            put(sampleType.rawValue, 24)
            put(readFormat.rawValue, 32)
            let flagWord = (flags.rawValue & ~AttributeFlags.preciseIPMask) | (UInt64(preciseIP & 3) << 15)
            put(flagWord, 40)
            put(wakeup, 48)
            put(bpType, 52)
            put(config1, 56)
            put(config2, 64)
            put(branchSampleType, 72)
            put(sampleRegsUser, 80)
            put(sampleStackUser, 88)
            put(clockID, 92)
            put(sampleRegsIntr, 96)
            put(auxWatermark, 104)
            put(sampleMaxStack, 108)
            put(auxSampleSize, 112)
            put(sigData, 120)
        }
        return bytes
    }

    /// Reads an attribute written by any version of the kernel headers. Fields beyond the
    /// given bytes stay zero, as the kernel treats them.
    public init(bytes: UnsafeRawBufferPointer) {
        func get<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            guard offset + MemoryLayout<T>.size <= bytes.count else { return 0 }
            return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let type = get(0, UInt32.self)
        self.init(kind: EventKind(type: type, config: get(8, UInt64.self)))
        samplePeriodOrFrequency = get(16, UInt64.self)
        sampleType = SampleType(rawValue: get(24, UInt64.self))
        readFormat = ReadFormat(rawValue: get(32, UInt64.self))
        let flagWord = get(40, UInt64.self)
        flags = AttributeFlags(rawValue: flagWord & ~AttributeFlags.preciseIPMask)
        preciseIP = UInt8((flagWord & AttributeFlags.preciseIPMask) >> 15)
        wakeup = get(48, UInt32.self)
        bpType = get(52, UInt32.self)
        config1 = get(56, UInt64.self)
        config2 = get(64, UInt64.self)
        branchSampleType = get(72, UInt64.self)
        sampleRegsUser = get(80, UInt64.self)
        sampleStackUser = get(88, UInt32.self)
        clockID = get(92, Int32.self)
        sampleRegsIntr = get(96, UInt64.self)
        auxWatermark = get(104, UInt32.self)
        sampleMaxStack = get(108, UInt16.self)
        auxSampleSize = get(112, UInt32.self)
        sigData = get(120, UInt64.self)
    }
}

extension EventAttributes: CustomStringConvertible {
    /// A perf-style one-line summary, used in error messages.
    public var description: String {
        var parts = ["\(kind)"]
        if let frequency { parts.append("freq=\(frequency)") } else { parts.append("period=\(samplePeriodOrFrequency)") }
        if flags.contains(.excludeKernel) { parts.append("exclude_kernel") }
        if flags.contains(.excludeUser) { parts.append("exclude_user") }
        if flags.contains(.inherit) { parts.append("inherit") }
        if flags.contains(.contextSwitch) { parts.append("context_switch") }
        if sampleType.contains(.callchain) { parts.append("callchain") }
        if sampleType.contains(.stackUser) { parts.append("stack_user=\(sampleStackUser)") }
        return parts.joined(separator: " ")
    }
}
