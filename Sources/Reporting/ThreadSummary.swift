import ProfileModel

extension TextReport {
    /// One line per thread of the profile (including threads without samples): pid, tid, command,
    /// its amount in the profile's metric (samples, or nanoseconds off CPU) and its percentage, sorted by samples
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
            total = total.addingSaturated(stack.value)
            let t = Int(stack.thread)
            if t >= 0 && t < counts.count { counts[t] = counts[t].addingSaturated(stack.value) } else { unknown = unknown.addingSaturated(stack.value) }
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

        return "# Threads: \(profile.threads.count)   \(profile.metric.title): \(total)\n#\n" + ColumnTable(columns: [
            .init(title: "Pid", cells: rows.map { "\($0.thread.pid)" }, minimumWidth: 4),  // "#  Pid" with the "# " prefix
            .init(title: "Tid", cells: rows.map { "\($0.thread.tid)" }, minimumWidth: 3),
            .init(title: "Command", cells: rows.map(\.thread.comm), leftAligned: true),
            .init(title: profile.metric.title, cells: rows.map { "\($0.count)" }),
            .init(title: "Percent", cells: rows.map { PercentFormat.string(percent($0.count, of: total)) }),
        ]).rendered()
    }
}
