import Recording
#if canImport(Glibc)
import Glibc
#endif

/// The live "[perch] 1.5 s  N samples  M lost" line `perch record` keeps rewriting on stderr
/// while it records, when stderr is a terminal.
final class StatusLine {
    let enabled: Bool
    private(set) var shown = false

    init(enabled: Bool) {
        self.enabled = enabled && isatty(2) != 0
    }

    func show(_ progress: RecordingProgress) {
        shown = true
        writeStderr("\r[perch] \(formatSeconds(progress.elapsedSeconds)) s  \(progress.samples) samples  \(progress.lostRecords) lost \u{1b}[K")
    }

    /// Erases the line, so what follows starts at the left margin.
    func clear() {
        writeStderr("\r\u{1b}[K")
    }
}

func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}
