import Recording
#if canImport(Glibc)
import Glibc
#endif

/// The live "[perch] 1.5 s  N samples  M lost" line `perch record` shows on stderr while it
/// records, when stderr is a terminal.
///
/// The recorded command writes to the same terminal whenever it likes, so the status owns a line
/// of its own: the terminal's bottom row, kept out of the scrolling region (DECSTBM) while the
/// recording runs. The command's output scrolls above it and never meets the status text; each
/// redraw saves the cursor, draws the bottom row and puts the cursor back where the command left
/// it. `clear()` gives the whole screen back to scrolling and erases the row.
final class StatusLine {
    let enabled: Bool
    private(set) var shown = false
    /// The terminal's rows when the scrolling region was set.
    private var rows = 0

    init(enabled: Bool) {
        self.enabled = enabled && isatty(2) != 0 && Self.terminalRows() >= 3
    }

    /// The terminal's height in rows (0 when unknown).
    private static func terminalRows() -> Int {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0 else { return 0 }
        return Int(size.ws_row)
    }

    func show(_ progress: RecordingProgress) {
        let height = Self.terminalRows()
        guard height >= 3 else { return }
        var text = ""
        if !shown || height != rows {
            // A new line first, so a cursor on the bottom row moves up with the scroll instead of
            // being hidden under the status; then the region above the bottom row scrolls alone
            // (setting it homes the cursor, hence the save and restore around it).
            if !shown { text += "\n\u{1b}[1A" }
            text += "\u{1b}7\u{1b}[1;\(height - 1)r\u{1b}8"
            rows = height
            shown = true
        }
        let line = "[perch] \(formatSeconds(progress.elapsedSeconds)) s  \(progress.samples) samples  \(progress.lostRecords) lost"
        text += "\u{1b}7\u{1b}[\(rows);1H\u{1b}[2K\(line)\u{1b}8"
        writeStderr(text)  // one write: the command's output never lands inside it
    }

    /// Gives the screen back: scrolling over every row again, the status row erased, the
    /// cursor where the command's output left it.
    func clear() {
        guard shown else { return }
        writeStderr("\u{1b}7\u{1b}[r\u{1b}8\u{1b}7\u{1b}[\(rows);1H\u{1b}[2K\u{1b}8")
        shown = false
    }
}

func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
