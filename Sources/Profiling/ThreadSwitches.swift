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

    /// Thread `tid` of `pid` left the CPU at `time` (`preempted`: it was still runnable). Returns
    /// how long it ran, if its switch-in was seen.
    mutating func switchedOut(pid: Int32, tid: Int32, time: UInt64, preempted: Bool) -> UInt64? {
        var state = states[tid] ?? State(pid: pid)
        let ran = state.lastIn.map { time &- $0 }
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
        let off = state.lastOut.map { (state.pid, time &- $0, state.outWasPreemption) }
        state.lastIn = time
        state.lastOut = nil
        states[tid] = state
        return off
    }
}
