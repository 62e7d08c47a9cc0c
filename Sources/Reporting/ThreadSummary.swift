import PerfEvents
import Profiling

extension TextReport {
    /// One line per thread of the profile (including threads without samples): pid, tid, command,
    /// sample count and its percentage of all samples (by count, not weight), sorted by samples
    /// descending, then pid, tid and thread order. Samples of stacks whose thread index is out of
    /// range are listed as pid/tid -1, `[unknown]`.
    ///
    /// ```
    /// # Threads: 2   Samples: 10
    /// #
    /// #  Pid  Tid  Command  Samples  Percent
    /// #
    ///    100  100  known          6   60.00%
    ///    100  101  worker         4   40.00%
    /// ```
    public static func threadSummary(_ profile: Profile) -> String {
        var counts = [UInt64](repeating: 0, count: profile.threads.count)
        var unknown: UInt64 = 0
        var total: UInt64 = 0
        for stack in profile.stacks {
            total &+= stack.count
            let t = Int(stack.thread)
            if t >= 0 && t < counts.count { counts[t] &+= stack.count } else { unknown &+= stack.count }
        }
        var rows: [(thread: ThreadInfo, count: UInt64, order: Int)] = profile.threads.enumerated().map {
            ($0.element, counts[$0.offset], $0.offset)
        }
        if unknown > 0 { rows.append((ThreadInfo(pid: -1, tid: -1, comm: Frame.unknownSymbol), unknown, rows.count)) }
        rows.sort { a, b in
            if a.count != b.count { return a.count > b.count }
            if a.thread.pid != b.thread.pid { return a.thread.pid < b.thread.pid }
            if a.thread.tid != b.thread.tid { return a.thread.tid < b.thread.tid }
            return a.order < b.order
        }

        let pids = rows.map { "\($0.thread.pid)" }, tids = rows.map { "\($0.thread.tid)" }
        let samples = rows.map { "\($0.count)" }
        let percents = rows.map { PercentFormat.string(percent($0.count, of: total)) }
        let wPid = pids.reduce(4) { max($0, $1.count) }   // "#  Pid" occupies 6 with the "# " prefix
        let wTid = tids.reduce(3) { max($0, $1.count) }
        let wComm = rows.reduce(7) { max($0, $1.thread.comm.count) }
        let wSamples = samples.reduce(7) { max($0, $1.count) }
        let wPercent = percents.reduce(7) { max($0, $1.count) }
        func right(_ s: String, _ w: Int) -> String { s.alignedRight(w) }
        func left(_ s: String, _ w: Int) -> String { s.alignedLeft(w) }

        var out = "# Threads: \(profile.threads.count)   Samples: \(total)\n#\n"
        out += "# " + right("Pid", wPid) + "  " + right("Tid", wTid) + "  " + left("Command", wComm) + "  "
            + right("Samples", wSamples) + "  " + right("Percent", wPercent) + "\n#\n"
        for (i, row) in rows.enumerated() {
            out += "  " + right(pids[i], wPid) + "  " + right(tids[i], wTid) + "  " + left(row.thread.comm, wComm)
                + "  " + right(samples[i], wSamples) + "  " + right(percents[i], wPercent) + "\n"
        }
        return out
    }
}
