/// The `sample_type` bits of `perf_event_attr`: which fields a `PERF_RECORD_SAMPLE` carries,
/// in this order.
public struct SampleType: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let ip = SampleType(rawValue: 1 << 0)
    public static let tid = SampleType(rawValue: 1 << 1)
    public static let time = SampleType(rawValue: 1 << 2)
    public static let addr = SampleType(rawValue: 1 << 3)
    public static let read = SampleType(rawValue: 1 << 4)
    public static let callchain = SampleType(rawValue: 1 << 5)
    public static let id = SampleType(rawValue: 1 << 6)
    public static let cpu = SampleType(rawValue: 1 << 7)
    public static let period = SampleType(rawValue: 1 << 8)
    public static let streamID = SampleType(rawValue: 1 << 9)
    public static let raw = SampleType(rawValue: 1 << 10)
    public static let branchStack = SampleType(rawValue: 1 << 11)
    public static let regsUser = SampleType(rawValue: 1 << 12)
    public static let stackUser = SampleType(rawValue: 1 << 13)
    public static let weight = SampleType(rawValue: 1 << 14)
    public static let dataSource = SampleType(rawValue: 1 << 15)
    public static let identifier = SampleType(rawValue: 1 << 16)
    public static let transaction = SampleType(rawValue: 1 << 17)
    public static let regsIntr = SampleType(rawValue: 1 << 18)
    public static let physAddr = SampleType(rawValue: 1 << 19)
    public static let aux = SampleType(rawValue: 1 << 20)
    public static let cgroup = SampleType(rawValue: 1 << 21)
    public static let dataPageSize = SampleType(rawValue: 1 << 22)
    public static let codePageSize = SampleType(rawValue: 1 << 23)
    public static let weightStruct = SampleType(rawValue: 1 << 24)
}

/// The `read_format` bits of `perf_event_attr`.
public struct ReadFormat: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let totalTimeEnabled = ReadFormat(rawValue: 1 << 0)
    public static let totalTimeRunning = ReadFormat(rawValue: 1 << 1)
    public static let id = ReadFormat(rawValue: 1 << 2)
    public static let group = ReadFormat(rawValue: 1 << 3)
    public static let lost = ReadFormat(rawValue: 1 << 4)
}

/// The single-bit flags of `perf_event_attr` (the 64-bit word after `read_format`).
public struct AttributeFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let disabled = AttributeFlags(rawValue: 1 << 0)
    public static let inherit = AttributeFlags(rawValue: 1 << 1)
    public static let pinned = AttributeFlags(rawValue: 1 << 2)
    public static let exclusive = AttributeFlags(rawValue: 1 << 3)
    public static let excludeUser = AttributeFlags(rawValue: 1 << 4)
    public static let excludeKernel = AttributeFlags(rawValue: 1 << 5)
    public static let excludeHypervisor = AttributeFlags(rawValue: 1 << 6)
    public static let excludeIdle = AttributeFlags(rawValue: 1 << 7)
    public static let mmap = AttributeFlags(rawValue: 1 << 8)
    public static let comm = AttributeFlags(rawValue: 1 << 9)
    public static let frequency = AttributeFlags(rawValue: 1 << 10)
    public static let inheritStat = AttributeFlags(rawValue: 1 << 11)
    public static let enableOnExec = AttributeFlags(rawValue: 1 << 12)
    public static let task = AttributeFlags(rawValue: 1 << 13)
    public static let watermark = AttributeFlags(rawValue: 1 << 14)
    // bits 15-16: precise_ip (see EventAttributes.preciseIP)
    public static let mmapData = AttributeFlags(rawValue: 1 << 17)
    public static let sampleIDAll = AttributeFlags(rawValue: 1 << 18)
    public static let excludeHost = AttributeFlags(rawValue: 1 << 19)
    public static let excludeGuest = AttributeFlags(rawValue: 1 << 20)
    public static let excludeCallchainKernel = AttributeFlags(rawValue: 1 << 21)
    public static let excludeCallchainUser = AttributeFlags(rawValue: 1 << 22)
    public static let mmap2 = AttributeFlags(rawValue: 1 << 23)
    public static let commExec = AttributeFlags(rawValue: 1 << 24)
    public static let useClockID = AttributeFlags(rawValue: 1 << 25)
    public static let contextSwitch = AttributeFlags(rawValue: 1 << 26)
    public static let writeBackward = AttributeFlags(rawValue: 1 << 27)
    public static let namespaces = AttributeFlags(rawValue: 1 << 28)
    public static let ksymbol = AttributeFlags(rawValue: 1 << 29)
    public static let bpfEvent = AttributeFlags(rawValue: 1 << 30)
    public static let auxOutput = AttributeFlags(rawValue: 1 << 31)
    public static let cgroup = AttributeFlags(rawValue: 1 << 32)
    public static let textPoke = AttributeFlags(rawValue: 1 << 33)
    public static let buildID = AttributeFlags(rawValue: 1 << 34)
    public static let inheritThread = AttributeFlags(rawValue: 1 << 35)
    public static let removeOnExec = AttributeFlags(rawValue: 1 << 36)
    public static let sigtrap = AttributeFlags(rawValue: 1 << 37)

    static let preciseIPMask: UInt64 = 0b11 << 15
}
