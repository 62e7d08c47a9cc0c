#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOPosix
import PerfRecords
import ProfileModel
import Profiling
import Reporting
import Symbolication
import SystemIO

/// One served profile: the gzipped profile.proto and what the recording left out.
public struct ServedProfile: Sendable {
    public var pprof: [UInt8]
    /// The recording's notes, in `perch doctor`'s and `perch record`'s words.
    public var notes: [String]
    /// UNIX seconds when the recording started and ended.
    public var from: Int
    public var until: Int
}

/// One recording of the target: a child `perch record` for `seconds` into a private temporary
/// perf.data, then the profile built from it in this process (ProfileBuilder → PprofWriter).
///
/// The recording runs in a child process because a recorder owns process-wide state (its stop
/// signal handlers): a child is stopped alone, with SIGINT, when every client waiting for it has
/// gone, and a recording that fails cannot take the server down.
final class RecordingJob: Sendable {
    /// The symbolizers that built earlier profiles, with the modules they read: the same
    /// processes are recorded again and again, so each profile reads only the files that changed.
    static let symbolizers = SymbolizerPool()

    let kind: ProfileKind
    let seconds: Int
    private let configuration: ServeConfiguration
    /// The running child, and why the recording was stopped early (`nil`: it was not).
    private let state = NIOLockedValueBox<(child: pid_t?, cancelled: ServeError?)>((nil, nil))

    init(kind: ProfileKind, seconds: Int, configuration: ServeConfiguration) {
        self.kind = kind
        self.seconds = seconds
        self.configuration = configuration
    }

    /// Stops the recording early (its child with SIGINT); ``run()`` then answers `reason`.
    func cancel(_ reason: ServeError = ServeError(.clientClosed, "every client of this recording went away")) {
        let child = state.withLockedValue { value -> pid_t? in
            if value.cancelled == nil { value.cancelled = reason }
            return value.child
        }
        if let child { kill(child, SIGINT) }
    }

    private var cancelled: ServeError? { state.withLockedValue { $0.cancelled } }

    /// Records, builds and encodes the profile.
    func run() async -> Result<ServedProfile, ServeError> {
        var template = Array("/tmp/perch-serve-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            return .failure(ServeError(.internalError, "cannot make a temporary directory in /tmp: \(String(cString: strerror(errno)))"))
        }
        let directory = String(cString: made)
        let dataPath = directory + "/perf.data", errorPath = directory + "/stderr"
        defer {
            unlink(dataPath)
            unlink(errorPath)
            rmdir(directory)
        }
        let target: [String]
        do {
            target = try configuration.recordArguments()
        } catch {
            return .failure(error)
        }
        var arguments = ["perch", "record", "-q", "--no-report", "-o", dataPath, "--duration", "\(seconds)",
                         "-F", "\(configuration.frequency)"] + target
        if let callGraph = configuration.callGraph { arguments += ["--call-graph", callGraph] }
        if kind == .offCPU { arguments.append("--switches") }
        let from = Int(time(nil))
        let status: Int32
        switch await runChild(arguments, errorPath: errorPath) {
        case .failure(let error): return .failure(error)
        case .success(let exit): status = exit
        }
        let until = Int(time(nil))
        if let cancelled { return .failure(cancelled) }
        var info = stat()
        guard stat(dataPath, &info) == 0, info.st_size > 0 else {
            let line = Self.lastLine(errorPath) ?? "perch record exited with status \(status)"
            // 77: the planner refused what this user may not record (perch doctor's words).
            return .failure(ServeError(status == 77 ? .forbidden : .internalError, line))
        }
        let kind = self.kind
        do {
            // Symbolizing reads files and blocks: NIO's thread pool, not the concurrency pool that answers requests.
            return .success(try await NIOThreadPool.singleton.runIfActive {
                let file = try PerfDataFile(path: dataPath)
                let symbolizer = RecordingJob.symbolizers.take()
                defer { RecordingJob.symbolizers.give(back: symbolizer) }
                let profile = try ProfileBuilder(file: file, symbolizer: symbolizer,
                                                 weighting: kind == .offCPU ? .offCPU : .onCPU).build()
                var buildIDs: [String: [UInt8]] = [:]
                for entry in file.features.buildIDs where !entry.buildID.isEmpty { buildIDs[entry.path] = entry.buildID }
                // Attached processes' mappings come from /proc, without build ids: read them from
                // the files (the recording's own table wins where it has one).
                var paths = Set<String>()
                for frame in profile.frames where frame.dso.hasPrefix("/") && buildIDs[frame.dso] == nil && paths.count < 1024 {
                    paths.insert(frame.dso)
                }
                for path in paths {
                    if let id = (try? ELFImage(path: path))?.buildID, !id.isEmpty { buildIDs[path] = id }
                }
                return ServedProfile(pprof: PprofWriter.write(profile, buildIDs: buildIDs),
                                     notes: profile.summary.notes.map(\.text), from: from, until: until)
            })
        } catch {
            return .failure(ServeError(.internalError, "the recording could not be read: \(error)"))
        }
    }

    /// Runs `perch record` with standard input and output on /dev/null and standard error in
    /// `errorPath`, polling for its end (so cancellation can reach it).
    private func runChild(_ arguments: [String], errorPath: String) async -> Result<Int32, ServeError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, configuration.executable, &actions, nil, &cArguments, environ)
        guard spawned == 0 else {
            return .failure(ServeError(.internalError, "cannot run \(configuration.executable): \(String(cString: strerror(spawned)))"))
        }
        let cancelledBeforeStart = state.withLockedValue { value -> Bool in
            value.child = pid
            return value.cancelled != nil
        }
        if cancelledBeforeStart { kill(pid, SIGINT) }
        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid || (done < 0 && errno != EINTR) { break }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        state.withLockedValue { $0.child = nil }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        return .success(status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F))
    }

    /// The last line perch record wrote on standard error, without its `perch: ` prefix.
    private static func lastLine(_ path: String) -> String? {
        guard let bytes = try? readFile(path: path, limit: 1 << 16) else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("perch: note:") }
        guard let last = lines.last else { return nil }
        return last.hasPrefix("perch: ") ? String(last.dropFirst(7)) : String(last)
    }
}
