import PerfABI
import PerfRecords
import ProfileModel

/// Per-thread scheduling from `PERF_RECORD_SWITCH` records (Perch's and perf's
/// `--switch-events`), or from `sched:sched_switch` tracepoint samples where a recording has no
/// switch records (`perf sched record`): time on and off CPU, preemptions, switch counts, the
/// off-CPU intervals (for latency percentiles and `--timehist`), and, when the recording has
/// `sched:sched_waking`/`sched:sched_wakeup` samples, the scheduling delay as `perf sched
/// latency` measures it: from the wake-up (or the preemption) to the switch-in.
public struct SchedTimeline: Sendable {
    public struct Thread: Sendable {
        public var pid: Int32
        public var tid: Int32
        public var comm: String
        public var onCPU: UInt64 = 0
        public var offCPU: UInt64 = 0
        /// Off-CPU time after preemption (waiting for a CPU rather than for an event).
        public var preempted: UInt64 = 0
        public var voluntarySwitches = 0
        public var preemptedSwitches = 0
        /// Durations of every complete off-CPU interval, in nanoseconds.
        public var waits: [UInt64] = []

        public var switches: Int { voluntarySwitches + preemptedSwitches }

        /// Switch-ins that ended a wait for a CPU (after a wake-up or a preemption).
        public var delays = 0
        /// Their total, in nanoseconds.
        public var totalDelay: UInt64 = 0
        /// The longest, and when it started (the wake-up or preemption) and ended (the switch-in).
        public var maxDelay: UInt64 = 0
        public var maxDelayStart: UInt64 = 0
        public var maxDelayEnd: UInt64 = 0

        /// The mean scheduling delay, in nanoseconds (0 without any).
        public var averageDelay: UInt64 { delays == 0 ? 0 : totalDelay / UInt64(delays) }

        /// The `p`-th percentile (0...100) of off-CPU intervals.
        public func waitPercentile(_ p: Double) -> UInt64 {
            guard !waits.isEmpty else { return 0 }
            let sorted = waits.sorted()
            let rank = Int((p / 100 * Double(sorted.count - 1)).rounded(.toNearestOrAwayFromZero))
            return sorted[min(max(rank, 0), sorted.count - 1)]
        }
    }

    /// One switch-out, as `perf sched timehist` prints it.
    public struct Switch: Sendable {
        public var time: UInt64
        public var cpu: UInt32
        public var tid: Int32
        /// Off-CPU time that ended when this run started.
        public var waitBefore: UInt64
        /// Time on CPU ending at this switch-out.
        public var run: UInt64
        public var preempted: Bool
    }

    public var threads: [Thread] = []
    public var switches: [Switch] = []
    public var firstTime: UInt64 = 0
    public var lastTime: UInt64 = 0
    /// Switch records seen (0 means the recording has none: record with --switches).
    public var switchRecords = 0
    /// Switch pairs dropped because the later one is timed before the earlier one.
    public var droppedIntervals: UInt64 = 0
    /// Where the switches came from.
    public var switchSource: SwitchSource = .switchRecords
    /// The wake-up tracepoints the delays were measured from (empty: no delay column).
    public var wakeupEvents: [String] = []
    /// Why the delay could not be measured, or where the tracepoint formats came from, if not
    /// from the recording.
    public var notes: [String] = []

    /// Where a timeline's switches come from.
    public enum SwitchSource: Sendable, Equatable {
        /// `PERF_RECORD_SWITCH` records.
        case switchRecords
        /// `sched:sched_switch` samples (prev_pid, prev_state, next_pid from the raw data).
        case schedSwitchTracepoint
    }

    /// The names of the wake-up tracepoints, in the order perf sched latency reads them.
    public static let wakeupTracepoints = ["sched:sched_wakeup", "sched:sched_wakeup_new", "sched:sched_waking"]

    /// - Parameter formatLookup: the tracefs format text for a tracepoint name, for a recording
    ///   that does not carry its formats (used, and said in ``notes``, only then).
    public init(file: PerfDataFile, formatLookup: ((String) -> String?)? = nil) throws {
        let decoder = RecordDecoder(events: file.events)
        let model = ProcessModel()
        var switchesOfThread = ThreadSwitches()
        /// Each thread's row, and the off-CPU time that ended at its latest switch-in.
        var rows: [Int32: (index: Int, waitBefore: UInt64)] = [:]
        var threads: [Thread] = []
        var switches: [Switch] = []
        var switchRecords = 0
        var firstTime: UInt64 = 0
        var lastTime: UInt64 = 0

        // The tracepoint events with raw data and a format this reader can use.
        var notes: [String] = []
        let formats = TracepointFormats(file: file, lookup: formatLookup)
        func format(of index: Int) -> TracepointFormat? {
            file.events[index].attributes.sampleType.contains(.raw) ? formats.byEvent[index] : nil
        }
        var switchFormat: (event: Int, format: TracepointFormat)?
        var wakeupFormats: [Int: TracepointFormat] = [:]
        var wakeupNames: [String] = []
        for index in file.events.indices {
            let name = file.events[index].name
            if name == "sched:sched_switch", let format = format(of: index),
               format.fields.contains(where: { $0.name == "next_pid" }), format.fields.contains(where: { $0.name == "prev_state" }) {
                switchFormat = (index, format)
            } else if Self.wakeupTracepoints.contains(name), let format = format(of: index), format.fields.contains(where: { $0.name == "pid" }) {
                wakeupFormats[index] = format
                wakeupNames.append(name)
            }
        }
        // perf sched latency counts from sched_wakeup (the task is on a run queue); sched_waking
        // (the wake-up starts) stands in only where a recording has no sched_wakeup.
        if wakeupNames.contains("sched:sched_wakeup") {
            for (index, _) in wakeupFormats where file.events[index].name == "sched:sched_waking" { wakeupFormats[index] = nil }
            wakeupNames.removeAll { $0 == "sched:sched_waking" }
        }
        if let note = formats.note { notes.append(note) }
        let hasSwitchRecords = file.events.contains { $0.attributes.flags.contains(.contextSwitch) }
        let source: SwitchSource = hasSwitchRecords || switchFormat == nil ? .switchRecords : .schedSwitchTracepoint
        if wakeupFormats.isEmpty {
            notes.append("no scheduling delay: the recording has no sched:sched_waking or sched:sched_wakeup samples with their fields (perch sched record takes them as root or with CAP_PERFMON and tracefs access)")
        }

        /// Where each thread stands for the delay: waiting for a CPU since a time, or asleep.
        enum Waiting { case sleeping, forCPU(since: UInt64) }
        var waiting: [Int32: Waiting] = [:]
        /// Names from sched_switch's raw data, for threads no COMM record names.
        var rawNames: [Int32: String] = [:]

        func row(pid: Int32, tid: Int32) -> (index: Int, waitBefore: UInt64) {
            rows[tid] ?? {
                threads.append(Thread(pid: pid, tid: tid, comm: ":\(tid)"))
                return (threads.count - 1, 0)
            }()
        }
        func switched(out isOut: Bool, preempted: Bool, pid: Int32, tid: Int32, time: UInt64, cpu: UInt32) {
            if switchRecords == 0 { firstTime = time }
            lastTime = time
            switchRecords += 1
            guard tid > 0 else { return }  // the idle task
            var row = row(pid: pid, tid: tid)
            if isOut {
                if let run = switchesOfThread.switchedOut(pid: pid, tid: tid, time: time, preempted: preempted) {
                    threads[row.index].onCPU = threads[row.index].onCPU.addingSaturated(run)
                    switches.append(Switch(time: time, cpu: cpu, tid: tid, waitBefore: row.waitBefore, run: run,
                                           preempted: preempted))
                }
                if preempted { threads[row.index].preemptedSwitches += 1 } else { threads[row.index].voluntarySwitches += 1 }
                waiting[tid] = preempted ? .forCPU(since: time) : .sleeping
            } else {
                if let off = switchesOfThread.switchedIn(tid: tid, time: time) {
                    threads[row.index].offCPU = threads[row.index].offCPU.addingSaturated(off.nanoseconds)
                    if off.afterPreemption { threads[row.index].preempted = threads[row.index].preempted.addingSaturated(off.nanoseconds) }
                    threads[row.index].waits.append(off.nanoseconds)
                    row.waitBefore = off.nanoseconds
                } else {
                    row.waitBefore = 0
                }
                if !wakeupFormats.isEmpty, case .forCPU(let since)? = waiting[tid], time >= since {
                    let delay = time - since
                    threads[row.index].delays += 1
                    threads[row.index].totalDelay = threads[row.index].totalDelay.addingSaturated(delay)
                    if delay > threads[row.index].maxDelay || threads[row.index].delays == 1 {
                        threads[row.index].maxDelay = delay
                        threads[row.index].maxDelayStart = since
                        threads[row.index].maxDelayEnd = time
                    }
                }
                waiting[tid] = nil
            }
            rows[tid] = row
        }

        try TimeOrderedRecords(file: file).forEach { record in
            let type = record.type
            if type == RecordType.sample.rawValue {
                guard record.eventIndex == switchFormat?.event || wakeupFormats[record.eventIndex] != nil,
                      let sample = try? decoder.decodeSample(record.bytes) else { return }
                if let wakeup = wakeupFormats[record.eventIndex] {
                    // The wakee is in the raw data; the sample's own task is the waker.
                    guard let pid = wakeup.integer("pid", in: sample.raw), let tid = Int32(exactly: pid), tid > 0 else { return }
                    // A thread not seen switching yet is asleep, as perf sched latency takes it.
                    switch waiting[tid] {
                    case .sleeping?: waiting[tid] = .forCPU(since: sample.time)
                    case nil where rows[tid] == nil: waiting[tid] = .forCPU(since: sample.time)
                    default: break
                    }
                } else if source == .schedSwitchTracepoint, let format = switchFormat?.format,
                          let previous = format.integer("prev_pid", in: sample.raw), let next = format.integer("next_pid", in: sample.raw),
                          let state = format.integer("prev_state", in: sample.raw),
                          let previousTID = Int32(exactly: previous), let nextTID = Int32(exactly: next) {
                    if rawNames[previousTID] == nil, let name = format.text("prev_comm", in: sample.raw) { rawNames[previousTID] = name }
                    if rawNames[nextTID] == nil, let name = format.text("next_comm", in: sample.raw) { rawNames[nextTID] = name }
                    // Runnable (no sleep state in the low byte; 0x100 is "R+", preempted) means preempted.
                    switched(out: true, preempted: state & 0xff == 0, pid: model.processOf[previousTID] ?? previousTID,
                             tid: previousTID, time: sample.time, cpu: sample.cpu)
                    switched(out: false, preempted: false, pid: model.processOf[nextTID] ?? nextTID, tid: nextTID,
                             time: sample.time, cpu: sample.cpu)
                }
                return
            }
            if type == RecordType.comm.rawValue, case .comm(let comm)? = try? decoder.decode(record.bytes) {
                model.comm(pid: comm.pid, tid: comm.tid, name: comm.name, exec: comm.isExec)
            } else if type == RecordType.fork.rawValue, case .fork(let task)? = try? decoder.decode(record.bytes) {
                model.fork(pid: task.pid, parentPID: task.parentPID, tid: task.tid, parentTID: task.parentTID)
            }
            guard source == .switchRecords,
                  type == RecordType.switchThread.rawValue || type == RecordType.switchCPUWide.rawValue,
                  case .contextSwitch(let change)? = try? decoder.decode(record.bytes) else { return }
            // CPU-wide records name the other task too; the record's own task is in sample_id.
            let id = change.sampleID
            switched(out: change.isOut, preempted: change.isPreempt, pid: id.pid, tid: id.tid, time: id.time, cpu: id.cpu)
        }
        // Names are settled once every record is in: a thread may be named after its first switch.
        for (tid, row) in rows {
            if let name = model.comms[tid] ?? rawNames[tid] { threads[row.index].comm = name }
        }
        self.threads = threads
        self.switches = switches
        self.switchRecords = switchRecords
        self.droppedIntervals = switchesOfThread.backwardPairs
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.switchSource = source
        self.wakeupEvents = wakeupNames
        self.notes = notes
    }
}
