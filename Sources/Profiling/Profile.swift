/// What a frame is, for annotations (`_[k]`, `_[j]`, `_[i]`) and colouring.
public enum FrameKind: UInt8, Sendable, Hashable {
    case user
    case kernel
    case jit
    case inlined
}

/// One symbolized frame, interned in a ``Profile``.
public struct Frame: Hashable, Sendable {
    /// The function name (demangled), or `[unknown]`.
    public var symbol: String
    /// The shared object: a path, `[kernel.kallsyms]`, a module name, or `[unknown]`.
    public var dso: String
    public var kind: FrameKind
    /// The address the frame was resolved from, for `--addrs`-style output of unknown symbols.
    public var address: UInt64
    /// `file:line` when known (DWARF), else nil.
    public var sourceLine: String?

    public init(symbol: String, dso: String, kind: FrameKind, address: UInt64 = 0, sourceLine: String? = nil) {
        self.symbol = symbol
        self.dso = dso
        self.kind = kind
        self.address = address
        self.sourceLine = sourceLine
    }

    public static let unknownSymbol = "[unknown]"

    /// Whether no symbol covers the address.
    public var isUnknownSymbol: Bool { symbol == Self.unknownSymbol }

    /// The DSO's last path component, as perf report shows it.
    public var shortDSO: String {
        guard let slash = dso.lastIndex(of: "/") else { return dso }
        return String(dso[dso.index(after: slash)...])
    }
}

/// A thread seen in the recording.
public struct ThreadInfo: Hashable, Sendable {
    public var pid: Int32
    public var tid: Int32
    /// The thread's name (its comm) when these samples were taken.
    public var comm: String
    /// The CPU these samples ran on, when the profile keeps CPUs apart (`--cpu`); else nil.
    public var cpu: Int32?

    public init(pid: Int32, tid: Int32, comm: String) {
        self.pid = pid
        self.tid = tid
        self.comm = comm
    }
}

/// One unique call stack of one thread and how much it was sampled.
public struct StackSample: Sendable {
    /// Index into ``Profile/threads``.
    public var thread: Int32
    /// Indices into ``Profile/frames``, outermost caller first, sampled frame last.
    public var frames: [Int32]
    /// Number of samples.
    public var count: UInt64
    /// Sum of the samples' periods (event counts, e.g. nanoseconds for cpu-clock).
    public var weight: UInt64

    public init(thread: Int32, frames: [Int32], count: UInt64, weight: UInt64) {
        self.thread = thread
        self.frames = frames
        self.count = count
        self.weight = weight
    }
}

/// Everything a report header states about how the data was recorded.
public struct RecordingSummary: Sendable {
    /// The event name, e.g. `cpu-clock`.
    public var event: String
    /// Sampling frequency in Hz, if sampling by frequency.
    public var frequency: UInt64?
    /// Sampling period, if sampling by period.
    public var period: UInt64?
    public var sampleCount: UInt64 = 0
    /// Records the kernel dropped (sum of `PERF_RECORD_LOST` counts).
    public var lostRecords: UInt64 = 0
    /// `PERF_RECORD_LOST_SAMPLES` counts.
    public var lostSamples: UInt64 = 0
    public var throttleEvents: UInt64 = 0
    public var unthrottleEvents: UInt64 = 0
    /// How call chains were obtained, e.g. `fp`.
    public var callGraph: String?
    /// Every fallback or degradation taken, one line each (for the header and `--json`).
    public var notes: [String] = []
    /// The recorded command line, if known.
    public var commandLine: String?
    /// Samples whose records could not be decoded.
    public var malformedRecords: UInt64 = 0

    public init(event: String, frequency: UInt64? = nil, period: UInt64? = nil) {
        self.event = event
        self.frequency = frequency
        self.period = period
    }
}

/// An aggregated profile: unique stacks over interned frames and threads. Reporters only read it.
public struct Profile: Sendable {
    public var frames: [Frame] = []
    public var threads: [ThreadInfo] = []
    public var stacks: [StackSample] = []
    public var summary: RecordingSummary

    public init(summary: RecordingSummary) {
        self.summary = summary
    }

    /// Total samples over all stacks.
    public var totalSamples: UInt64 { stacks.reduce(0) { $0 + $1.count } }
    /// Total period over all stacks.
    public var totalWeight: UInt64 { stacks.reduce(0) { $0 + $1.weight } }
}
