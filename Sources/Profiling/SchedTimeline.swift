import PerfABI
import PerfRecords
import ProfileModel

/// Per-thread scheduling from `PERF_RECORD_SWITCH` records: time on and off CPU, preemptions,
/// switch counts, and the off-CPU intervals (for latency percentiles and `--timehist`).
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

    public init(file: PerfDataFile) throws {
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
        try TimeOrderedRecords(file: file).forEach { record in
            let type = record.type
            if type == RecordType.comm.rawValue, case .comm(let comm)? = try? decoder.decode(record.bytes) {
                model.comm(pid: comm.pid, tid: comm.tid, name: comm.name, exec: comm.isExec)
            } else if type == RecordType.fork.rawValue, case .fork(let task)? = try? decoder.decode(record.bytes) {
                model.fork(pid: task.pid, parentPID: task.parentPID, tid: task.tid, parentTID: task.parentTID)
            }
            guard type == RecordType.switchThread.rawValue || type == RecordType.switchCPUWide.rawValue,
                  case .contextSwitch(let change)? = try? decoder.decode(record.bytes) else { return }
            let id = change.sampleID
            if switchRecords == 0 { firstTime = id.time }
            lastTime = id.time
            switchRecords += 1
            // CPU-wide records name the other task too; the record's own task is in sample_id.
            let tid = id.tid
            guard tid > 0 else { return }  // the idle task
            var row = rows[tid] ?? {
                threads.append(Thread(pid: id.pid, tid: tid, comm: ":\(tid)"))
                return (threads.count - 1, 0)
            }()
            if change.isOut {
                if let run = switchesOfThread.switchedOut(pid: id.pid, tid: tid, time: id.time, preempted: change.isPreempt) {
                    threads[row.index].onCPU = threads[row.index].onCPU.addingSaturated(run)
                    switches.append(Switch(time: id.time, cpu: id.cpu, tid: tid, waitBefore: row.waitBefore, run: run,
                                           preempted: change.isPreempt))
                }
                if change.isPreempt { threads[row.index].preemptedSwitches += 1 } else { threads[row.index].voluntarySwitches += 1 }
            } else if let off = switchesOfThread.switchedIn(tid: tid, time: id.time) {
                threads[row.index].offCPU = threads[row.index].offCPU.addingSaturated(off.nanoseconds)
                if off.afterPreemption { threads[row.index].preempted = threads[row.index].preempted.addingSaturated(off.nanoseconds) }
                threads[row.index].waits.append(off.nanoseconds)
                row.waitBefore = off.nanoseconds
            } else {
                row.waitBefore = 0
            }
            rows[tid] = row
        }
        // Names are settled once every record is in: a thread may be named after its first switch.
        for (tid, row) in rows {
            if let name = model.comms[tid] { threads[row.index].comm = name }
        }
        self.threads = threads
        self.switches = switches
        self.switchRecords = switchRecords
        self.droppedIntervals = switchesOfThread.backwardPairs
        self.firstTime = firstTime
        self.lastTime = lastTime
    }
}
