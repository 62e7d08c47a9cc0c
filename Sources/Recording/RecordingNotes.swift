/// The fallbacks a recording took, one line each, in the order they happened: the plan's
/// degradations first, then what opening the events and reading /proc had to give up.
struct RecordingNotes {
    private(set) var lines: [String] = []

    /// Adds `text` once; with `prefix`, first drops the earlier lines it supersedes.
    mutating func add(_ text: String, replacingPrefix prefix: String? = nil) {
        if let prefix { lines.removeAll { $0.hasPrefix(prefix) } }
        if !lines.contains(text) { lines.append(text) }
    }
}
