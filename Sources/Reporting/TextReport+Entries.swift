import ProfileModel

extension TextReport {
    /// The Symbol column's text of an entry: `[.] name` (`[k]`, `[j]`, `[i]`), as the report prints it.
    /// For views that lay out their own table (`perch top`).
    public static func symbolText(_ entry: ReportEntry) -> String {
        symbolCell(entry)
    }

    /// The caller tree of entry `row` of `table`, as the report prints it under the entry with `-g`
    /// (percentages of the total, branches below `callGraphPercentLimit` of the entry left out), one
    /// string per line. `table` must have been built with ``ReportOptions/callGraph`` on.
    public static func callerTreeLines(ofEntry row: Int, in table: OverheadTable, profile: Profile) -> [String] {
        guard table.options.callGraph, table.entries.indices.contains(row) else { return [] }
        let options = table.options
        let keying = EntryKeying(profile: profile, keys: [.dso, .sym], sourceLines: options.showSourceLine)
        let renderer = CallGraphRenderer(
            names: CallGraphRenderer.names(profile: profile, keying: keying, sourceLines: options.showSourceLine),
            total: table.total, percentLimit: options.percentLimit, entryPercentLimit: options.callGraphPercentLimit)
        var out = ""
        renderer.render(CallerTree(table: table, entry: row, profile: profile, nodeKeying: keying, depth: options.callGraphDepth),
                        into: &out)
        return out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

extension TextReport {
    /// `50.00%`: a percentage as the report prints it (`%.2f%%`).
    public static func percentText(_ percent: Double) -> String {
        PercentFormat.string(percent)
    }
}
