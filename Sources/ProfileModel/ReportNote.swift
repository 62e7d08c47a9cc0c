/// Something a report must say about how complete it is: a fallback taken while recording, or a
/// limit met while reading. Each says what was left out and, where there is one, how to get it.
public struct ReportNote: Hashable, Sendable, CustomStringConvertible {
    /// What the note is about. Kinds decided while recording are stored in the recording (by
    /// raw value) and read back with it.
    public enum Kind: String, Sendable, CaseIterable {
        // Decided while recording (the planner's degradations and what opening events gave up).
        case hardwareEventUnavailable, kernelFramesDropped, frequencyClamped, ringBufferShrunk
        case kernelSymbolsHidden, switchStacksUnavailable, eventNeverCounts, unreadableMemoryMaps
        // Found while reading.
        case kernelNotSampled, stacksTruncated, stacksStitched, stacksNotCopied, noUnwindTables, noSwitchRecords, switchStacksNotRecorded
        case fileChanged, otherEvents, timeWentBackwards
        /// How an in-process profile was sampled (perf_event_open, or the signal-timer sampler) and what that leaves out.
        case profilingMechanism
        /// The recording never finished its file (killed, crashed, disk full): read up to where it stopped.
        case recordingCutShort
        /// A recorded kind this version does not know (a newer Perch wrote the file).
        case other
    }

    public var kind: Kind
    /// The sentence shown after `# Note:`.
    public var text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    public var description: String { text }
}
