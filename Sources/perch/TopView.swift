import ProfileModel
import Reporting
import SystemIO

/// What `perch top` shows and how: the view's settings, changed by keys, and the layout of one
/// refresh as lines — the same rows on the full screen (coloured, cut to the window) and in
/// `--stdio` tables.
struct TopView {
    /// Which samples the rows count, by where the sampled frame runs (`k`, `u`).
    enum Space: String {
        case all, kernel, user
    }

    /// The sort orders `s` steps through (the first is the one given with `--sort`).
    var sortOrders: [[SortKey]]
    var sortIndex = 0
    var children: Bool
    var decay = false
    var space = Space.all
    /// Rows whose symbol contains this (case-insensitively), from `/`.
    var nameFilter = ""
    /// The row the arrow keys have selected.
    var selected = 0
    /// `g`: the selected row's caller tree is drawn under it.
    var expanded = false
    var showHelp = false
    /// The text being typed after `/`, while it is.
    var editingFilter: String?
    /// Call chains were recorded, so `g` and children have something to show.
    let hasCallChains: Bool
    /// A one-line message for the next screen (e.g. why `g` cannot show anything).
    var message: String?

    init(sortKeys: [SortKey], children: Bool, hasCallChains: Bool) {
        var seen = Set<SortKey>()
        var orders: [[SortKey]] = [sortKeys.filter { seen.insert($0).inserted }]
        for order in [[SortKey.comm, .dso, .sym], [.dso, .sym], [.sym], [.comm], [.pid, .comm]] where !orders.contains(order) {
            orders.append(order)
        }
        sortOrders = orders
        self.children = children
        self.hasCallChains = hasCallChains
    }

    var sortKeys: [SortKey] { sortOrders[sortIndex] }

    static let help = [
        "perch top keys",
        "",
        "  q         quit (Ctrl-C too)",
        "  z         zero: forget the samples so far",
        "  d         decay on/off: counts shrink to 7/8 at each refresh, as perf top's",
        "  s         next sort order (comm,dso,sym → dso,sym → sym → comm → pid,comm)",
        "  c         children (inclusive) column on/off",
        "  ↑ ↓       select a row;  g  its call tree (callers) on/off",
        "  k / u     kernel / user samples only (again: all)",
        "  /         filter rows by symbol name (Enter applies, empty clears, Esc cancels)",
        "  ?         this help (any key closes it)",
    ]

    /// The options the table is built with.
    func reportOptions(callGraph: Bool) -> ReportOptions {
        var options = ReportOptions(sortKeys: sortKeys, children: children && hasCallChains)
        options.callGraph = callGraph && hasCallChains
        return options
    }

    /// The profile restricted to what `k`/`u` keep.
    func restricted(_ profile: Profile) -> Profile {
        guard space != .all else { return profile }
        var copy = profile
        copy.stacks = profile.stacks.filter { stack in
            guard let leaf = stack.frames.last else { return false }
            return (profile.frameOrUnknown(leaf).kind == .kernel) == (space == .kernel)
        }
        return copy
    }

    /// The rows the name filter keeps, with their indices in the table.
    func rows(of table: OverheadTable) -> [(index: Int, entry: ReportEntry)] {
        let rows = table.entries.enumerated().map { (index: $0.offset, entry: $0.element) }
        guard !nameFilter.isEmpty else { return rows }
        let needle = nameFilter.lowercased()
        return rows.filter { ($0.entry.symbol ?? "").lowercased().contains(needle) }
    }

    /// The table's lines: a title line, then up to `limit` rows (with the selected row's caller
    /// tree when expanded), cut to `width` columns when given.
    func tableLines(_ table: OverheadTable, profile: Profile, limit: Int, width: Int?, colour: Bool, highlight: Bool) -> [String] {
        let rows = rows(of: table)
        let shown = Array(rows.prefix(max(0, limit)))
        let keys = table.options.sortKeys
        func cell(_ key: SortKey, _ entry: ReportEntry) -> String {
            switch key {
            case .comm: entry.comm ?? ""
            case .pid: entry.pid.map { "\($0)" } ?? ""
            case .tid: entry.tid.map { "\($0)" } ?? ""
            case .dso: entry.dso ?? ""
            case .sym: TextReport.symbolText(entry)
            }
        }
        func title(_ key: SortKey) -> String {
            switch key {
            case .comm: "Command"
            case .pid: "Pid"
            case .tid: "Tid"
            case .dso: "Shared Object"
            case .sym: "Symbol"
            }
        }
        // Columns fit their visible values, but no column but the last takes more than 32.
        let widths = keys.map { key in min(32, shown.reduce(title(key).count) { max($0, cell(key, $1.entry).count) }) }
        func layout(_ cells: [String]) -> String {
            var line = ""
            for (index, text) in cells.enumerated() {
                let last = index == cells.count - 1
                let fitted = text.count > widths[index] && !last ? String(text.prefix(widths[index] - 1)) + "…" : text
                line += "  " + (last ? fitted : fitted.alignedLeft(widths[index]))
            }
            return line
        }
        let percentColumns = table.options.children ? "Children      Self" : "Overhead"
        var lines = [cut("  " + percentColumns + layout(keys.map(title)), width)]
        for (position, row) in shown.enumerated() {
            let entry = row.entry
            var percents: [Double] = []
            if table.options.children { percents.append(table.childrenPercent(entry)) }
            percents.append(table.selfPercent(entry))
            let plainPercents = percents.map { TextReport.percentText($0).alignedRight(8) }
            let rest = layout(keys.map { cell($0, entry) })
            let plain = "  " + plainPercents.joined(separator: "  ") + rest
            let isSelected = highlight && position == selected
            var line: String
            if colour && !isSelected {
                let coloured = zip(plainPercents, percents).map { text, value in
                    TerminalColour.percent(text, value: value, enabled: true)
                }
                // Cut the text part only: the escapes take no columns.
                let budget = width.map { max(0, $0 - (plain.count - rest.count)) }
                line = "  " + coloured.joined(separator: "  ") + cut(rest, budget)
            } else {
                line = cut(plain, width)
                if isSelected { line = "\u{1B}[7m" + line.alignedLeft(width ?? line.count) + "\u{1B}[0m" }
            }
            lines.append(line)
            if expanded, position == selected {
                for treeLine in TextReport.callerTreeLines(ofEntry: row.index, in: table, profile: profile) {
                    lines.append(cut(treeLine, width))
                }
            }
        }
        return lines
    }

    /// What a key asks of the session beyond the view's own settings.
    enum Action {
        case redraw, zero, quit
    }

    /// Applies one key.
    mutating func handle(_ key: TopTerminal.Key, rowCount: Int) -> Action {
        if showHelp {
            showHelp = false
            return .redraw
        }
        if var text = editingFilter {
            switch key {
            case .enter: nameFilter = text; editingFilter = nil; selected = 0
            case .escape: editingFilter = nil
            case .backspace: if !text.isEmpty { text.removeLast() }; editingFilter = text
            case .character(let character): text.append(character); editingFilter = text
            default: break
            }
            return .redraw
        }
        switch key {
        case .character("q"), .character("Q"): return .quit
        case .character("z"): message = "zeroed"; return .zero
        case .character("d"): decay.toggle(); message = decay ? "decay on: counts shrink to 7/8 at each refresh" : "decay off"
        case .character("s"):
            sortIndex = (sortIndex + 1) % sortOrders.count
            selected = 0
            message = "sorted by " + sortKeys.map(\.rawValue).joined(separator: ",")
        case .character("c"):
            if hasCallChains { children.toggle() } else { message = "no call chains: children need them (--call-graph fp)" }
        case .character("g"):
            if hasCallChains { expanded.toggle() } else { message = "no call chains: call trees need them (--call-graph fp)" }
        case .character("k"): space = space == .kernel ? .all : .kernel
        case .character("u"): space = space == .user ? .all : .user
        case .character("/"): editingFilter = nameFilter
        case .character("?"), .character("h"): showHelp = true
        case .up: selected = max(0, selected - 1)
        case .down: selected = min(max(0, rowCount - 1), selected + 1)
        case .pageUp: selected = max(0, selected - 10)
        case .pageDown: selected = min(max(0, rowCount - 1), selected + 10)
        case .escape: expanded = false; nameFilter = ""
        default: break
        }
        return .redraw
    }

    /// What the view is set to, for the header.
    var settingsText: String {
        var parts: [String] = []
        if space != .all { parts.append("\(space.rawValue) only") }
        if decay { parts.append("decay") }
        if !nameFilter.isEmpty { parts.append("filter: \(nameFilter)") }
        return parts.joined(separator: ", ")
    }
}

/// `text` cut to `width` columns (characters), when a width is given.
func cut(_ text: String, _ width: Int?) -> String {
    guard let width, text.count > width else { return text }
    return String(text.prefix(max(0, width)))
}
