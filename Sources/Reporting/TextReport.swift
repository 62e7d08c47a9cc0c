import ProfileModel

/// `perf report --stdio`-style reports of a ``Profile``.
///
/// Layout: a `#` header (event, totals, lost/throttle counts, one `# Note:` line per
/// ``RecordingSummary/notes`` entry, the command line), then a table with the overhead column(s) and
/// one column per sort key, widths fitted to content:
///
/// - `comm`: `Command`, left-aligned.
/// - `pid` / `tid`: `Pid` / `Tid`, right-aligned numbers. When `comm` is not a sort key, the first of
///   them shows `pid:comm` (or `tid:comm`) under `Pid:Command` (`Tid:Command`), as perf's
///   `Pid:Command` column does.
/// - `dso`: `Shared Object`, the DSO's last path component.
/// - `sym`: `Symbol`, as `[.] name` (`[k]` kernel, `[j]` JIT, `[i]` inlined), plus ` file:line`
///   with ``ReportOptions/showSourceLine``.
///
/// With ``ReportOptions/children`` the columns are `Children  Self`, sorted by Children; with
/// ``ReportOptions/showSampleCount`` a `Samples` column follows them. With
/// ``ReportOptions/callGraph`` each entry is followed by its call graph (see ``CallGraphRenderer``).
/// Without ``ReportOptions/showHeader`` (`-q`) no `#` line is printed: only the entries.
public enum TextReport {
    /// Renders the report as text.
    public static func render(_ profile: Profile, options: ReportOptions) -> String {
        let table = OverheadTable(profile: profile, options: options)
        var out = options.showHeader ? header(profile, table: table) : ""
        let keys = options.effectiveKeys
        let useComm = keys.contains(.comm)
        let comms = useComm ? nil : CommLookup(profile)
        func commOf(_ entry: ReportEntry) -> String { comms?.comm(entry) ?? "" }

        // Columns: header, values, right-aligned.
        var columns: [(title: String, values: [String], right: Bool)] = []
        var commShown = false
        for key in keys {
            switch key {
            case .comm:
                columns.append(("Command", table.entries.map { $0.comm ?? "" }, false))
            case .pid, .tid:
                let name = key == .pid ? "Pid" : "Tid"
                func id(_ e: ReportEntry) -> Int32 { (key == .pid ? e.pid : e.tid) ?? -1 }
                if useComm || commShown {
                    columns.append((name, table.entries.map { "\(id($0))" }, true))
                } else {
                    commShown = true
                    columns.append((name + ":Command", table.entries.map { "\(id($0)):\(commOf($0))" }, false))
                }
            case .dso:
                columns.append(("Shared Object", table.entries.map { $0.dso ?? "" }, false))
            case .sym:
                columns.append(("Symbol", table.entries.map { symbolCell($0) }, false))
            }
        }
        let widths = columns.map { c in c.values.reduce(c.title.count) { max($0, $1.count) } }

        func pad(_ s: String, _ width: Int, right: Bool, last: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, width - s.count))
            return right ? fill + s : (last ? s : s + fill)
        }

        var titleLine = options.children ? "# Children      Self" : "# Overhead"
        var dotsLine = options.children ? "# ........  ........" : "# ........"
        // perf's -n: sample counts right after the overhead column(s).
        let samplesWidth = table.entries.reduce("Samples".count) { max($0, String($1.selfSamples).count) }
        if options.showSampleCount {
            titleLine += "  " + String(repeating: " ", count: samplesWidth - "Samples".count) + "Samples"
            dotsLine += "  " + String(repeating: ".", count: samplesWidth)
        }
        for (i, c) in columns.enumerated() {
            let last = i == columns.count - 1
            titleLine += "  " + pad(c.title, widths[i], right: false, last: last)
            dotsLine += "  " + String(repeating: ".", count: widths[i])
        }
        if options.showHeader { out += titleLine + "\n" + dotsLine + "\n#\n" }

        var graph: (keying: EntryKeying, renderer: CallGraphRenderer)?
        if options.callGraph {
            let keying = EntryKeying(profile: profile, keys: [.dso, .sym], sourceLines: options.showSourceLine)
            let names = CallGraphRenderer.names(profile: profile, keying: keying, sourceLines: options.showSourceLine)
            graph = (keying, CallGraphRenderer(
                names: names, total: table.total, percentLimit: options.percentLimit,
                entryPercentLimit: options.callGraphPercentLimit, layout: options.callGraphLayout))
        }

        for (row, entry) in table.entries.enumerated() {
            var line: String
            if options.children {
                line = PercentFormat.padded(table.childrenPercent(entry), width: 10, colour: options.colour)
                line += "  " + PercentFormat.padded(table.selfPercent(entry), width: 8, colour: options.colour)
            } else {
                line = PercentFormat.padded(table.selfPercent(entry), width: 10, colour: options.colour)
            }
            if options.showSampleCount {
                let count = String(entry.selfSamples)
                line += "  " + String(repeating: " ", count: samplesWidth - count.count) + count
            }
            for (i, c) in columns.enumerated() {
                line += "  " + pad(c.values[row], widths[i], right: c.right, last: i == columns.count - 1)
            }
            out += line + "\n"
            if let graph {
                let tree = CallerTree(
                    table: table, entry: row, profile: profile, nodeKeying: graph.keying,
                    depth: options.callGraphDepth, order: options.callGraphOrder)
                graph.renderer.render(tree, into: &out)
            }
        }
        return out
    }

    /// The `#` header lines, ending with a `#` line before the table.
    static func header(_ profile: Profile, table: OverheadTable) -> String {
        let s = profile.summary
        var event = "# Event: \(s.event)"
        if let f = s.frequency { event += " (\(f) Hz)" } else if let p = s.period { event += " (period \(p))" }
        event += ", call graph: \(s.callGraph ?? "none")"
        var out = "# Perch report\n" + event + "\n"
        out += "# Samples: \(table.totalSamples)   Event count: \(table.totalWeight)\n"
        out += "# Lost records: \(s.lostRecords)   Throttle events: \(s.throttleEvents)   Unthrottle events: \(s.unthrottleEvents)\n"
        if s.lostSamples > 0 { out += "# Lost samples: \(s.lostSamples)\n" }
        if s.malformedRecords > 0 { out += "# Malformed records skipped: \(s.malformedRecords)\n" }
        switch s.inlinedFunctions {
        case .absent: break
        case .shown: out += "# Inlined functions: frames of their own ([i]); --no-inline gives their time to the functions they were inlined into\n"
        case .folded: out += "# Inlined functions: folded into the functions they were inlined into (--no-inline)\n"
        }
        for note in s.notes { out += "# Note: \(note.text)\n" }
        // One header line however the arguments were written (a script passed with -c has newlines).
        if let cmd = s.commandLine { out += "# Command line: \(cmd.split(whereSeparator: \.isNewline).joined(separator: " "))\n" }
        out += "#\n"
        return out
    }

    /// `[.] name` with the kind marker perf uses, plus the source line when present.
    static func symbolCell(_ entry: ReportEntry) -> String {
        let marker: String
        switch entry.kind ?? .user {
        case .user: marker = "[.]"
        case .kernel: marker = "[k]"
        case .jit: marker = "[j]"
        case .inlined: marker = "[i]"
        }
        var cell = marker + " " + (entry.symbol ?? Frame.unknownSymbol)
        if let line = entry.sourceLine { cell += " " + line }
        return cell
    }

    /// Command names by tid and by pid (the main thread's, else the first thread's), for the
    /// `Pid:Command` / `Tid:Command` columns.
    private struct CommLookup {
        var byTid: [Int32: String] = [:]
        var byPid: [Int32: String] = [:]

        init(_ profile: Profile) {
            for t in profile.threads {
                if byTid[t.tid] == nil { byTid[t.tid] = t.comm }
                if byPid[t.pid] == nil || t.tid == t.pid { byPid[t.pid] = t.comm }
            }
        }

        func comm(_ entry: ReportEntry) -> String {
            if let tid = entry.tid, let c = byTid[tid] { return c }
            if let pid = entry.pid, let c = byPid[pid] { return c }
            return Frame.unknownSymbol
        }
    }
}
