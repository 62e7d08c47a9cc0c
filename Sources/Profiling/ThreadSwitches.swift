/// Pairs each thread's `PERF_RECORD_SWITCH` records: a switch-out with the switch-in before it
/// (time on CPU) and a switch-in with the switch-out before it (time off CPU). The one pairing
/// behind off-CPU profiles and `perch sched`.
struct ThreadSwitches {
    private struct State {
        var pid: Int32
        var lastIn: UInt64?
        var lastOut: UInt64?
        var outWasPreemption = false
    }

    private var states: [Int32: State] = [:]
    /// Pairs dropped because the later record's time is before the earlier one's (corrupted or
    /// unordered timestamps): `time - earlier` would be an interval of about 2^64 ns.
    private(set) var backwardPairs: UInt64 = 0

    /// Thread `tid` of `pid` left the CPU at `time` (`preempted`: it was still runnable). Returns
    /// how long it ran, if its switch-in was seen.
    mutating func switchedOut(pid: Int32, tid: Int32, time: UInt64, preempted: Bool) -> UInt64? {
        var state = states[tid] ?? State(pid: pid)
        let ran = state.lastIn.flatMap { forward(from: $0, to: time) }
        state.pid = pid
        state.lastOut = time
        state.lastIn = nil
        state.outWasPreemption = preempted
        states[tid] = state
        return ran
    }

    /// Thread `tid` came back on a CPU at `time`. Returns how long it was off CPU, its process
    /// as of the switch-out, and whether it had been preempted, if its switch-out was seen.
    mutating func switchedIn(tid: Int32, time: UInt64) -> (pid: Int32, nanoseconds: UInt64, afterPreemption: Bool)? {
        var state = states[tid] ?? State(pid: -1)
        let off = state.lastOut.flatMap { out in forward(from: out, to: time).map { (state.pid, $0, state.outWasPreemption) } }
        state.lastIn = time
        state.lastOut = nil
        states[tid] = state
        return off
    }

    /// `later - earlier`, or `nil` (counted) when time went backwards.
    private mutating func forward(from earlier: UInt64, to later: UInt64) -> UInt64? {
        guard later >= earlier else {
            backwardPairs += 1
            return nil
        }
        return later - earlier
    }
}
