/// Why a ``Profiler`` could not start, stop or write its profile.
public enum ProfilerError: Error, Sendable, CustomStringConvertible {
    /// `start()` while a profiler is already running in this process (one at a time).
    case alreadyRunning
    /// `stop()` on a profiler that is not running.
    case notRunning
    /// ``Profiler/Mechanism/perfEvents`` was asked for and the kernel refused it.
    case perfEventsUnavailable(String)
    /// The in-process sampler could not be set up (its signal, timers or buffer).
    case samplerUnavailable(String)
    /// The options make no sense (a zero frequency, a stack copy out of bounds).
    case invalidOptions(String)
    /// The temporary recording or an output file could not be written.
    case output(String)
    /// The recording could not be read back into a profile.
    case unreadableRecording(String)

    public var description: String {
        switch self {
        case .alreadyRunning: return "a profiler is already running in this process (one at a time)"
        case .notRunning: return "the profiler is not running"
        case .perfEventsUnavailable(let reason): return "perf_event_open is not available: \(reason)"
        case .samplerUnavailable(let reason): return "the in-process sampler could not start: \(reason)"
        case .invalidOptions(let reason): return "invalid profiler options: \(reason)"
        case .output(let reason): return reason
        case .unreadableRecording(let reason): return "the recording could not be read: \(reason)"
        }
    }
}
