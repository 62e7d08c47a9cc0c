import PerfABI
import ProfileModel

/// Reads the records as the drain loop takes them from the rings, beside the perf.data file or
/// instead of it (``Recorder/consumer``): what `perch top` aggregates while it samples.
public protocol LiveRecordConsumer: AnyObject {
    /// Once, when the events are open and before any record: their descriptions and the notes
    /// on what was left out so far.
    func begin(events: [EventDescription], notes: [ReportNote])
    /// Every record: first those synthesized from /proc, then each ring's, pass after pass.
    /// The bytes are valid only during the call.
    func consume(_ record: UnsafeRawBufferPointer)
    /// After every drain pass (at least ten times a second, and at once after a signal):
    /// returning false ends the recording as if interrupted.
    func passEnded() -> Bool
}

/// The processes a user may profile without privileges: those of their own uid.
public enum OwnProcesses {
    /// The processes whose real and effective uid is `uid` (from /proc), sorted.
    public static func of(uid: UInt32) -> [Int32] {
        TaskDiscovery.allProcesses().filter { pid in
            guard let status = readProcFile("/proc/\(pid)/status") else { return false }
            for line in status.split(separator: "\n") where line.hasPrefix("Uid:") {
                let ids = line.dropFirst(4).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
                return ids.count >= 2 && ids[0] == uid && ids[1] == uid
            }
            return false
        }
    }
}
