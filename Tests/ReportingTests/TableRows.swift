/// The table rows of a text report: lines not starting with `#` whose first non-blank character is a
/// digit or an ANSI escape (a coloured percentage).
func tableRows(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { line in
        guard !line.hasPrefix("#"), let first = line.first(where: { $0 != " " }) else { return false }
        return first.isNumber || first == "\u{1B}"
    }
}
