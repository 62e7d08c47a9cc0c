import PerfEvents
import Profiling

extension TextReport {
    /// One line per process of the profile: pid, command (the main thread's, else the first
    /// thread's), thread count, sample count and its percentage of all samples (by count), sorted by
    /// samples descending, then pid. Samples of out-of-range threads are listed as pid -1, `[unknown]`.
    ///
    /// ```
    /// # Processes: 2   Samples: 10
    /// #
    /// #  Pid  Command  Threads  Samples  Percent
    /// #
    ///    100  known          2        6   60.00%
    ///    200  other          1        4   40.00%
    /// ```
    public static func processSummary(_ profile: Profile) -> String {
        struct Row { var pid: Int32; var comm: String; var threads = 0; var samples: UInt64 = 0; var order: Int }
        var rows: [Int32: Row] = [:]
        var order = 0
        for t in profile.threads {
            if rows[t.pid] == nil { rows[t.pid] = Row(pid: t.pid, comm: t.comm, order: order); order += 1 }
            rows[t.pid]!.threads += 1
            if t.tid == t.pid { rows[t.pid]!.comm = t.comm }
        }
        var total: UInt64 = 0
        var unknown: UInt64 = 0
        for stack in profile.stacks {
            total &+= stack.count
            let t = Int(stack.thread)
            if t >= 0 && t < profile.threads.count { rows[profile.threads[t].pid]!.samples &+= stack.count } else { unknown &+= stack.count }
        }
        var list = Array(rows.values)
        if unknown > 0 { list.append(Row(pid: -1, comm: Frame.unknownSymbol, threads: 0, samples: unknown, order: order)) }
        list.sort { a, b in
            if a.samples != b.samples { return a.samples > b.samples }
            if a.pid != b.pid { return a.pid < b.pid }
            return a.order < b.order
        }
        let pids = list.map { "\($0.pid)" }, threads = list.map { "\($0.threads)" }, samples = list.map { "\($0.samples)" }
        let percents = list.map { PercentFormat.string(percent($0.samples, of: total)) }
        let wPid = pids.reduce(4) { max($0, $1.count) }
        let wComm = list.reduce(7) { max($0, $1.comm.count) }
        let wThreads = threads.reduce(7) { max($0, $1.count) }
        let wSamples = samples.reduce(7) { max($0, $1.count) }
        let wPercent = percents.reduce(7) { max($0, $1.count) }
        func right(_ s: String, _ w: Int) -> String { s.alignedRight(w) }
        func left(_ s: String, _ w: Int) -> String { s.alignedLeft(w) }
        var out = "# Processes: \(rows.count)   Samples: \(total)\n#\n"
        out += "# " + right("Pid", wPid) + "  " + left("Command", wComm) + "  " + right("Threads", wThreads) + "  "
            + right("Samples", wSamples) + "  " + right("Percent", wPercent) + "\n#\n"
        for (i, row) in list.enumerated() {
            out += "  " + right(pids[i], wPid) + "  " + left(row.comm, wComm) + "  " + right(threads[i], wThreads)
                + "  " + right(samples[i], wSamples) + "  " + right(percents[i], wPercent) + "\n"
        }
        return out
    }
}
