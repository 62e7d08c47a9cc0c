import ProfileModel

extension TextReport {
    /// One line per process of the profile: pid, command (the main thread's, else the first
    /// thread's), thread count, its amount in the profile's metric (samples, or nanoseconds off CPU) and its percentage, sorted by
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
            total = total.addingSaturated(stack.value)
            let t = Int(stack.thread)
            if t >= 0 && t < profile.threads.count { rows[profile.threads[t].pid]!.samples = rows[profile.threads[t].pid]!.samples.addingSaturated(stack.value) } else { unknown = unknown.addingSaturated(stack.value) }
        }
        var list = Array(rows.values)
        if unknown > 0 { list.append(Row(pid: -1, comm: Frame.unknownSymbol, threads: 0, samples: unknown, order: order)) }
        list.sort { a, b in
            if a.samples != b.samples { return a.samples > b.samples }
            if a.pid != b.pid { return a.pid < b.pid }
            return a.order < b.order
        }
        return "# Processes: \(rows.count)   \(profile.metric.title): \(total)\n#\n" + ColumnTable(columns: [
            .init(title: "Pid", cells: list.map { "\($0.pid)" }, minimumWidth: 4),  // "#  Pid" with the "# " prefix
            .init(title: "Command", cells: list.map(\.comm), leftAligned: true),
            .init(title: "Threads", cells: list.map { "\($0.threads)" }),
            .init(title: profile.metric.title, cells: list.map { "\($0.samples)" }),
            .init(title: "Percent", cells: list.map { PercentFormat.string(percent($0.samples, of: total)) }),
        ]).rendered()
    }
}
