/// Pairs each thread's switch-out with its next switch-in and turns the time between into
/// blocked intervals, each on the stack the thread switched out on (when that was sampled).
struct OffCPUAccounting {
    /// One stretch of time a thread spent off CPU.
    struct Interval {
        var pid: Int32
        var tid: Int32
        var nanoseconds: UInt64
        /// The tree node of the stack sampled at the switch-out, if one was.
        var stack: Int32?
    }

    private var switches = ThreadSwitches()
    private var stackAtSwitchOut: [Int32: Int32] = [:]
    /// Intervals handed on.
    private(set) var intervals: UInt64 = 0
    /// Intervals without a sampled switch-out stack.
    private(set) var withoutStack: UInt64 = 0
    /// Intervals dropped because the switch-in is timed before its switch-out.
    var droppedIntervals: UInt64 { switches.backwardPairs }

    /// The context-switches event sampled thread `tid` as it switched out, with this stack.
    mutating func sampledSwitchOut(tid: Int32, stack: Int32) {
        stackAtSwitchOut[tid] = stack
    }

    /// A `PERF_RECORD_SWITCH` out of thread `tid` at `time`.
    mutating func switchedOut(pid: Int32, tid: Int32, time: UInt64) {
        _ = switches.switchedOut(pid: pid, tid: tid, time: time, preempted: false)
    }

    /// A `PERF_RECORD_SWITCH` into thread `tid` at `time`: the interval it ends, if the thread
    /// was seen switching out.
    mutating func switchedIn(tid: Int32, time: UInt64) -> Interval? {
        guard let off = switches.switchedIn(tid: tid, time: time) else {
            stackAtSwitchOut[tid] = nil
            return nil
        }
        let stack = stackAtSwitchOut.removeValue(forKey: tid)
        if stack == nil { withoutStack += 1 }
        intervals += 1
        return Interval(pid: off.pid, tid: tid, nanoseconds: off.nanoseconds, stack: stack)
    }
}
