import PerfABI
import PerfRecords

/// The record formats of a recording's tracepoint events, by event index: from the file
/// (TRACING_DATA, which Perch and perf write), else from a lookup (this machine's tracefs),
/// which ``lookedUp`` then names so a report can say so. Only formats whose id matches the
/// event's `config` are taken: a format of another kernel would name the wrong fields.
public struct TracepointFormats: Sendable {
    /// Formats by index into the file's events.
    public private(set) var byEvent: [Int: TracepointFormat] = [:]
    /// The events whose formats came from the lookup rather than the file.
    public private(set) var lookedUp: [String] = []

    /// - Parameter lookup: the tracefs `format` text of a tracepoint (`sched:sched_switch`).
    public init(file: PerfDataFile, lookup: ((String) -> String?)? = nil) {
        for (index, event) in file.events.enumerated() where event.attributes.kind.typeNumber == EventType.tracepoint.rawValue {
            var text = file.features.tracepointFormats.first { $0.event == event.name }?.format
            var fromLookup = false
            if text == nil, let found = lookup?(event.name) {
                text = found
                fromLookup = true
            }
            guard let text, let format = try? TracepointFormat(parsing: text), format.id == event.attributes.kind.config else { continue }
            byEvent[index] = format
            if fromLookup { lookedUp.append(event.name) }
        }
    }

    /// A sample's raw data as `field=value` text, when its event is a tracepoint with a known format.
    public func describe(event: Int, raw: UnsafeRawBufferPointer) -> String? {
        byEvent[event]?.describe(raw)
    }

    /// The note a report prints when formats came from this machine rather than the file.
    public var note: String? {
        lookedUp.isEmpty ? nil : "the recording does not carry the formats of \(lookedUp.joined(separator: ", ")): read from this machine's tracefs"
    }
}
