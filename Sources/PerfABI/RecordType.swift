/// `perf_event_header.type` values: the kernel's (1-31) and perf.data's synthesized ones (64+).
public enum RecordType: UInt32, Sendable {
    case mmap = 1, lost = 2, comm = 3, exit = 4, throttle = 5, unthrottle = 6, fork = 7, read = 8
    case sample = 9, mmap2 = 10, aux = 11, itraceStart = 12, lostSamples = 13, switchThread = 14
    case switchCPUWide = 15, namespaces = 16, ksymbol = 17, bpfEvent = 18, cgroup = 19, textPoke = 20
    case auxOutputHardwareID = 21
    case headerAttr = 64, headerEventType = 65, headerTracingData = 66, headerBuildID = 67
    case finishedRound = 68, idIndex = 69, auxtraceInfo = 70, auxtrace = 71, auxtraceError = 72
    case threadMap = 73, cpuMap = 74, statConfig = 75, stat = 76, statRound = 77, eventUpdate = 78
    case timeConversion = 79, headerFeature = 80, compressed = 81, finishedInit = 82, compressed2 = 83
}

/// `perf_event_header.misc` bits.
public struct RecordMisc: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let cpuModeMask: UInt16 = 7

    /// The CPU mode in the low three bits.
    public enum CPUMode: UInt16, Sendable {
        case unknown = 0, kernel = 1, user = 2, hypervisor = 3, guestKernel = 4, guestUser = 5
    }

    public var cpuMode: CPUMode { CPUMode(rawValue: rawValue & Self.cpuModeMask) ?? .unknown }

    /// COMM: the name changed because of exec.
    public static let commExec = RecordMisc(rawValue: 1 << 13)
    /// MMAP/MMAP2: a data (non-executable) mapping.
    public static let mmapData = RecordMisc(rawValue: 1 << 13)
    /// SWITCH: the thread switched out (else in).
    public static let switchOut = RecordMisc(rawValue: 1 << 13)
    /// SWITCH: the switch-out was a preemption.
    public static let switchOutPreempt = RecordMisc(rawValue: 1 << 14)
    /// MMAP2: the record carries a build id instead of device and inode.
    public static let mmapBuildID = RecordMisc(rawValue: 1 << 14)
    /// SAMPLE: the IP is exact.
    public static let exactIP = RecordMisc(rawValue: 1 << 14)
}

/// Markers inside `PERF_SAMPLE_CALLCHAIN` arrays that say which context the following IPs are in.
public enum CallchainContext: UInt64, Sendable {
    case hypervisor = 0xffff_ffff_ffff_ffe0      // (u64)-32
    case kernel = 0xffff_ffff_ffff_ff80          // (u64)-128
    case user = 0xffff_ffff_ffff_fe00            // (u64)-512
    case guest = 0xffff_ffff_ffff_f800           // (u64)-2048
    case guestKernel = 0xffff_ffff_ffff_f780     // (u64)-2176
    case guestUser = 0xffff_ffff_ffff_f600       // (u64)-2560

    /// Values at or above this are context markers, not addresses (`PERF_CONTEXT_MAX`).
    public static let markerThreshold: UInt64 = 0xffff_ffff_ffff_f001  // (u64)-4095
}
