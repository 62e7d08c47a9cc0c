/// One sample with its resolved, symbolized stack, as the per-sample path hands it on
/// (`perch script`): what perf script prints for a sample.
public struct ResolvedSample: Sendable {
    public var pid: Int32
    public var tid: Int32
    /// The thread's name when the sample was taken.
    public var comm: String
    /// The CPU, when the event sampled it (`PERF_SAMPLE_CPU`).
    public var cpu: UInt32?
    /// Nanoseconds of the recording's clock, when the event sampled it.
    public var time: UInt64?
    /// The event's period, when the event sampled it.
    public var period: UInt64?
    /// The event's name, as perf names it (`cpu-clock:ppp`).
    public var event: String
    /// The sampled instruction pointer.
    public var ip: UInt64
    /// Whether the event recorded stacks (`PERF_SAMPLE_CALLCHAIN`): else ``frames`` is the sampled
    /// frame alone (and the inlined functions at it).
    public var hasCallchain: Bool
    /// The stack, sampled frame first; inlined functions before the function they were inlined into.
    public var frames: [ResolvedFrame]
    /// A tracepoint sample's fields (`prev_comm=sh prev_pid=12 ...`), when its format is known.
    public var tracepointFields: String?

    public init(pid: Int32, tid: Int32, comm: String, cpu: UInt32?, time: UInt64?, period: UInt64?, event: String,
                ip: UInt64, hasCallchain: Bool, frames: [ResolvedFrame], tracepointFields: String? = nil) {
        self.pid = pid
        self.tid = tid
        self.comm = comm
        self.cpu = cpu
        self.time = time
        self.period = period
        self.event = event
        self.ip = ip
        self.hasCallchain = hasCallchain
        self.frames = frames
        self.tracepointFields = tracepointFields
    }
}

/// One frame of a ``ResolvedSample``.
public struct ResolvedFrame: Sendable {
    public var frame: Frame
    /// The address as perf script prints it: the file offset in its DSO for user code, the
    /// address itself for kernel, JIT and unmapped code. Return addresses as recorded (not
    /// the `pc - 1` they were looked up at).
    public var address: UInt64
    /// The address's distance from the start of its symbol, when a symbol covers it.
    public var symbolOffset: UInt64?

    public init(frame: Frame, address: UInt64, symbolOffset: UInt64?) {
        self.frame = frame
        self.address = address
        self.symbolOffset = symbolOffset
    }
}
