import CPerfEvent
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The processes a recording follows: a command launched paused before exec (released once
/// the events are open), or running processes and threads attached to, with a pidfd on each
/// to see it exit.
public final class TargetProcess {
    public let target: RecordingTarget
    /// The launched command, until it is reaped.
    private var child: Int32 = -1
    private var childControl: (Int32, Int32) = (-1, -1)
    public private(set) var pidfds: [Int32] = []
    /// The processes attached to (`-p`, or the processes of the `-t` threads).
    public private(set) var attachedPIDs: [Int32] = []

    public init(target: RecordingTarget) {
        self.target = target
    }

    /// Whether a launched command is still running (not yet reaped).
    public var hasChild: Bool { child > 0 }

    /// Whether the recording ends when every attached process has exited.
    public var followsAttachedProcesses: Bool { !attachedPIDs.isEmpty && !pidfds.isEmpty }

    /// The command's name, for messages.
    public var commandName: String {
        switch target {
        case .launch(let argv): argv.first ?? ""
        case .systemWide(_, let command): command?.first ?? ""
        default: ""
        }
    }

    /// The (pid, tid) pairs to open events on: the paused child, or the attached threads.
    public func prepare() throws -> [Int32] {
        switch target {
        case .launch(let argv):
            try spawnPaused(argv)
            return [child]
        case .systemWide(_, let command):
            if let command, !command.isEmpty { try spawnPaused(command) }
            return []
        case .attach(let pids):
            var tids: [Int32] = []
            for pid in pids {
                guard let threads = TaskDiscovery.threads(of: pid), !threads.isEmpty else { throw RecordingError.noSuchProcess(pid) }
                tids.append(contentsOf: threads)
                let fd = perch_pidfd_open(pid)
                if fd >= 0 { pidfds.append(fd) }
            }
            attachedPIDs = pids
            return tids
        case .threads(let tids):
            for tid in tids {
                guard let pid = TaskDiscovery.processID(ofThread: tid) else { throw RecordingError.noSuchProcess(tid) }
                if !attachedPIDs.contains(pid) { attachedPIDs.append(pid) }
                let fd = perch_pidfd_open(tid)
                if fd >= 0 { pidfds.append(fd) }
            }
            return tids
        }
    }

    /// Forks the command, paused before exec until ``release()``.
    private func spawnPaused(_ argv: [String]) throws {
        guard !argv.isEmpty else { throw RecordingError.output("no command to record") }
        var cArguments = argv.map { strdup($0) }
        cArguments.append(nil)
        defer { for argument in cArguments { free(argument) } }
        var control: Int32 = -1, report: Int32 = -1
        let pid = perch_spawn_paused(argv[0], cArguments, &control, &report)
        guard pid > 0 else { throw RecordingError.spawnFailed(errno: errno) }
        child = pid
        childControl = (control, report)
        let fd = perch_pidfd_open(pid)
        if fd >= 0 { pidfds.append(fd) }
    }

    /// Lets the paused command exec. Returns the exec's errno when it failed (the child is
    /// reaped then), else nil; nothing to do without a launched command.
    public func release() -> Int32? {
        guard child > 0 else { return nil }
        let failure = perch_release_child(childControl.0, childControl.1)
        guard failure != 0 else { return nil }
        _ = reap(child)
        return failure
    }

    /// Ends a command that is still paused: it reads EOF and exits 127.
    public func cancel() {
        guard child > 0 else { return }
        close(childControl.0)
        close(childControl.1)
        _ = reap(child)
        child = -1
    }

    /// The launched command's shell-style status if it has exited (it is reaped then).
    public func exitStatusIfExited() -> Int32? {
        guard child > 0, let status = reapIfExited(child) else { return nil }
        child = -1
        return status
    }

    /// Sends `signal` to the launched command.
    public func signal(_ signal: Int32) {
        guard child > 0 else { return }
        kill(child, signal)
    }

    /// Sends SIGTERM to the launched command and waits for it; its status, or nil.
    public func terminate() -> Int32? {
        guard child > 0 else { return nil }
        kill(child, SIGTERM)
        guard let status = reap(child) else { return nil }
        child = -1
        return status
    }

    public func closePidfds() {
        for fd in pidfds { close(fd) }
    }
}

/// Waits for a child; returns a shell-style status (128+N when killed by signal N).
func reap(_ pid: Int32) -> Int32? {
    var status: Int32 = 0
    guard (try? retryingInterrupted({ waitpid(pid, &status, 0) })) != nil else { return nil }
    return shellStatus(status)
}

func reapIfExited(_ pid: Int32) -> Int32? {
    var status: Int32 = 0
    let result = waitpid(pid, &status, WNOHANG)
    guard result == pid else { return nil }
    return shellStatus(status)
}

func shellStatus(_ status: Int32) -> Int32 {
    let signal = status & 0x7f
    if signal == 0 { return (status >> 8) & 0xff }
    return 128 + signal
}
