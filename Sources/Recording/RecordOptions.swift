import PerfABI
import PerfEvents
import ProfileModel
import SystemIO

/// What to record.
public enum RecordingTarget: Sendable, Equatable {
    /// Launch this command (argv) with events enabled at exec; follow its threads and children.
    case launch([String])
    /// Attach to these running processes (all their threads, and threads they create).
    case attach(pids: [Int32])
    /// Attach to these threads only.
    case threads([Int32])
    /// Every task on these CPUs (all online CPUs when nil); with a command, until it exits.
    case systemWide(cpus: [Int32]?, command: [String]?)
}

/// Everything `perch record` was asked to do.
public struct RecordOptions: Sendable {
    public var target: RecordingTarget
    /// The events to sample, as `-e` lists them; the first is the main one (it carries the
    /// process records and makes the default profile). Groups are flattened: each event is
    /// sampled on its own.
    public var events: [EventSpecification] = [EventSpecification(source: .known(.cpuCycles))]
    /// The main event's kind, when it is not a tracepoint (setting it replaces every event).
    public var event: EventKind {
        get { events.first?.kind ?? .cpuCycles }
        set { events = [EventSpecification(source: .known(newValue))] }
    }
    /// Samples per second; ignored when `period` is set.
    public var frequency: UInt64 = 4000
    /// Sample every `period` events instead of by frequency.
    public var period: UInt64?
    public var callGraph: CallGraphMode = .framePointer
    /// Include kernel code and kernel frames when the system allows it.
    public var kernel = true
    /// Include user code and user frames; false samples the kernel alone (perf's `--all-kernel`:
    /// exclude_user), which needs the permission to sample the kernel.
    public var user = true
    /// Ring buffer data pages per CPU (a power of two); shrunk to fit the mlock budget. Left at
    /// the default, recordings with stack copies get larger rings (sized from the rate).
    public var dataPages = RecordOptions.defaultDataPages
    /// perf's 516 KiB per CPU: 128 data pages and the header page.
    public static let defaultDataPages = 128
    public var outputPath = "perch.data"
    /// Stop after this many seconds (attach mode; a launched command is stopped with SIGTERM).
    public var duration: Double?
    /// With `fp`, also copy a little of the user stack to repair leaf frames. System-wide
    /// recording leaves it off by default: at high rates on every CPU the copies cost records.
    public var leafRepair = true
    /// Also record context switches (`PERF_RECORD_SWITCH`).
    public var contextSwitches = false
    /// Open tracepoint events on every task of each CPU (pid -1), as perf sched record does,
    /// where this user may: a wake-up is delivered to a per-task event only while that task's
    /// events run, so per-task wake-up tracepoints miss those from interrupts and other processes.
    public var cpuWideTracepoints = false
    /// The command line to store in the file.
    public var commandLine: [String] = []

    public init(target: RecordingTarget) {
        self.target = target
    }
}

/// How a recording ended and what it captured.
public struct RecordingResult: Sendable {
    public enum Ending: Sendable, Equatable {
        /// The launched command exited with this shell-style status (128+N for signal N).
        case targetExited(status: Int32)
        /// Every attached process exited.
        case attachedExited
        case interrupted
        case durationElapsed
        /// The output could not be written (a full disk); the file keeps what was written before.
        case outputFailed
    }

    public var ending: Ending
    public var outputPath: String
    public var samples: UInt64
    public var lostRecords: UInt64
    public var throttleEvents: UInt64
    public var unthrottleEvents: UInt64
    public var bytesWritten: Int
    /// Every fallback taken, one line each.
    public var notes: [ReportNote]
    /// Threads (per CPU) that had events opened on them.
    public var eventCount: Int
    public var ringCount: Int
    public var dataPagesPerRing: Int
    public var elapsedSeconds: Double
    /// The stop signal Perch itself received (SIGINT, SIGTERM, SIGHUP), which ended the recording.
    public var interruptedBy: Int32?
    /// Why the output stopped being written (a full disk): the file keeps the rounds written
    /// before it, and the recording stopped there.
    public var outputFailure: String?
    /// Samples of each event that had any, by the event's name (the main event first).
    public var samplesByEvent: [(event: String, samples: UInt64)] = []
}

/// Why a recording could not start.
public enum RecordingError: Error, Sendable, CustomStringConvertible {
    case refused(PlanRefusal)
    case commandNotFound(String, errno: Int32)
    case noSuchProcess(Int32)
    case eventOpenFailed(PerfEventError, remedy: String?)
    case ringBufferFailed(PerfEventError, remedy: String)
    case spawnFailed(errno: Int32)
    case output(String)

    public var description: String {
        switch self {
        case .refused(let refusal):
            return refusal.description
        case .commandNotFound(let command, let errno):
            // execvp says EACCES for a directory; shells say what it is.
            var status = stat()
            if errno == EACCES, command.contains("/"), stat(command, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
                return "cannot run '\(command)': it is a directory"
            }
            return "cannot run '\(command)': \(Errno(errno).text)"
        case .noSuchProcess(let pid):
            return "no such process: \(pid)"
        case .eventOpenFailed(let error, let remedy):
            return "\(error)" + (remedy.map { "; \($0)" } ?? "")
        case .ringBufferFailed(let error, let remedy):
            return "\(error); \(remedy)"
        case .spawnFailed(let errno):
            return "cannot start the command: \(Errno(errno).text)"
        case .output(let message):
            return message
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
