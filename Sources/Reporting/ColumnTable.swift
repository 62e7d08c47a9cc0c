import SystemIO

/// A text table whose columns are as wide as their widest cell (or title, or a minimum), as the
/// thread and process summaries print it: a `# `-prefixed title line, a `#` line, then one line per
/// row indented by two spaces, columns two spaces apart.
struct ColumnTable {
    struct Column {
        var title: String
        var cells: [String]
        var leftAligned = false
        /// At least this wide (the first column's title sits after `# `).
        var minimumWidth = 7
    }

    var columns: [Column]

    func rendered() -> String {
        let widths = columns.map { column in column.cells.reduce(max(column.minimumWidth, column.title.count)) { max($0, $1.count) } }
        func line(_ cell: (Int) -> String) -> String {
            columns.indices.map { index in
                columns[index].leftAligned ? cell(index).alignedLeft(widths[index]) : cell(index).alignedRight(widths[index])
            }.joined(separator: "  ")
        }
        var out = "# " + line { columns[$0].title } + "\n#\n"
        for row in 0..<(columns.first?.cells.count ?? 0) {
            out += "  " + line { columns[$0].cells[row] } + "\n"
        }
        return out
    }
}
