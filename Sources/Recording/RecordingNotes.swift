import ProfileModel

/// The fallbacks a recording took, in the order they happened: the plan's degradations first,
/// then what opening the events and reading /proc had to give up. Stored in the recording, so
/// every later report says them too.
struct RecordingNotes {
    private(set) var notes: [ReportNote] = []

    /// Adds `text` as a note of `kind`, once; a later note of a kind that `supersedes` replaces
    /// the earlier ones of that kind (a ring shrunk again says the final size).
    mutating func add(_ kind: ReportNote.Kind, _ text: String, supersedes: Bool = false) {
        if supersedes { notes.removeAll { $0.kind == kind } }
        let note = ReportNote(kind, text)
        if !notes.contains(note) { notes.append(note) }
    }
}
