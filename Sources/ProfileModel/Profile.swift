/// One unique call stack of one thread and how much it was seen.
public struct StackSample: Sendable {
    /// Index into ``Profile/threads``.
    public var thread: Int32
    /// Indices into ``Profile/frames``, outermost caller first, sampled frame last.
    public var frames: [Int32]
    /// The stack's amount in the profile's ``Profile/metric``: the number every output draws.
    public var value: UInt64
    /// How many samples (or off-CPU intervals) make up ``value``.
    public var samples: UInt64
    /// The sampled events' periods summed (perf's "event count": nanoseconds for `cpu-clock`);
    /// for time-measured profiles the same nanoseconds as ``value``.
    public var period: UInt64

    public init(thread: Int32, frames: [Int32], value: UInt64, samples: UInt64, period: UInt64) {
        self.thread = thread
        self.frames = frames
        self.value = value
        self.samples = samples
        self.period = period
    }
}

/// Everything a report header states about how the data was recorded.
public struct RecordingSummary: Sendable {
    /// The event name, e.g. `cpu-clock`, or what an off-CPU profile measures.
    public var event: String
    /// Sampling frequency in Hz, if sampling by frequency.
    public var frequency: UInt64?
    /// Sampling period, if sampling by period.
    public var period: UInt64?
    /// Samples, or off-CPU intervals, in the profile.
    public var sampleCount: UInt64 = 0
    /// Records the kernel dropped (sum of `PERF_RECORD_LOST` counts).
    public var lostRecords: UInt64 = 0
    /// `PERF_RECORD_LOST_SAMPLES` counts.
    public var lostSamples: UInt64 = 0
    public var throttleEvents: UInt64 = 0
    public var unthrottleEvents: UInt64 = 0
    /// How call chains were obtained, e.g. `fp`.
    public var callGraph: String?
    /// Every fallback or degradation taken, recorded ones first (for the header and `--json`).
    public var notes: [ReportNote] = []
    /// The recorded command line, if known.
    public var commandLine: String?
    /// Samples whose records could not be decoded.
    public var malformedRecords: UInt64 = 0
    /// Samples of the recording's other sampled events, by event index: each is a profile of its
    /// own (perf report prints a section per event).
    public var otherEventSamples: [Int: UInt64] = [:]
    /// How functions inlined into others appear, when the profile has any.
    public var inlinedFunctions: InlinedFunctions = .absent

    public init(event: String, frequency: UInt64? = nil, period: UInt64? = nil) {
        self.event = event
        self.frequency = frequency
        self.period = period
    }
}

/// How a profile shows functions the compiler inlined into others (from DWARF inline scopes).
public enum InlinedFunctions: String, Sendable {
    /// No stack has an inlined frame.
    case absent
    /// Frames of their own (`[i]`), each with its self time.
    case shown
    /// Folded into the functions they were inlined into, which get their time (`--no-inline`),
    /// as perf's flat profile shows it.
    case folded
}

/// An aggregated profile: unique stacks over interned frames and threads, in one metric.
/// Reporters only read it.
public struct Profile: Sendable {
    public var frames: [Frame] = []
    public var threads: [ThreadInfo] = []
    public var stacks: [StackSample] = []
    /// What ``StackSample/value`` measures.
    public var metric: Metric
    public var summary: RecordingSummary

    public init(summary: RecordingSummary, metric: Metric = .samples) {
        self.summary = summary
        self.metric = metric
    }

    /// The metric's total over all stacks, saturating rather than wrapping.
    public var totalValue: UInt64 { stacks.reduce(0) { $0.addingSaturated($1.value) } }
    /// Samples (or intervals) over all stacks.
    public var totalSamples: UInt64 { stacks.reduce(0) { $0.addingSaturated($1.samples) } }
    /// Event periods over all stacks.
    public var totalPeriod: UInt64 { stacks.reduce(0) { $0.addingSaturated($1.period) } }

    /// The frame at `index`, or ``Frame/unknown`` for -1 or an out-of-range index.
    public func frameOrUnknown(_ index: Int32) -> Frame {
        index >= 0 && Int(index) < frames.count ? frames[Int(index)] : .unknown
    }

    /// The thread at `index`, or ``ThreadInfo/unknown``.
    public func threadOrUnknown(_ index: Int32) -> ThreadInfo {
        index >= 0 && Int(index) < threads.count ? threads[Int(index)] : .unknown
    }
}

extension UInt64 {
    /// `self + other`, or `UInt64.max` where that would wrap.
    @inline(__always)
    public func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension Profile {
    /// The profile with inlined frames taken out of every stack, so their samples count for the
    /// real functions they were inlined into. Frames and threads stay interned as they were.
    public func foldingInlinedFrames() -> Profile {
        guard summary.inlinedFunctions == .shown else { return self }
        var copy = self
        let inlined = frames.map { $0.kind == .inlined }
        for index in copy.stacks.indices {
            copy.stacks[index].frames.removeAll { $0 >= 0 && Int($0) < inlined.count && inlined[Int($0)] }
        }
        copy.summary.inlinedFunctions = .folded
        return copy
    }
}
