import PerfRecords
import ProfileModel
import Profiling
import Reporting
import Symbolication
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The formats an ``InProcessProfile`` writes: the ones `perch report` writes.
public enum ProfileFormat: Sendable, CaseIterable, CustomStringConvertible {
    /// An interactive SVG flame graph (flamegraph.pl's conventions: hover, click to zoom, search).
    case flameGraph
    /// Folded stacks, one `frame;frame;frame count` line per stack (`stackcollapse-perf.pl`'s format).
    case folded
    /// pprof's gzipped `profile.proto`.
    case pprof
    /// speedscope's JSON file format.
    case speedscope
    /// The perf.data recording itself, which `perch report -i` and `perf report -i` read. Through
    /// perf_event_open it also holds the samples of the profiler's thread and of processes forked
    /// meanwhile (`inherit` follows them), which ``InProcessProfile/profile`` leaves out.
    case perfData

    public var description: String {
        switch self {
        case .flameGraph: "SVG flame graph"
        case .folded: "folded stacks"
        case .pprof: "pprof"
        case .speedscope: "speedscope"
        case .perfData: "perf.data"
        }
    }
}

/// A profile of this process, taken by a ``Profiler``.
///
/// ``profile`` is the model every Perch output reads (frames, threads, unique stacks with their
/// sample counts); ``mechanism`` says how the samples were taken, and the profile's notes say
/// it too, so every written format carries it.
public final class InProcessProfile: Sendable {
    /// How a profile's samples were taken.
    public enum Mechanism: String, Sendable {
        /// The kernel's perf events (cpu-clock), as `perch record -p` takes them.
        case perfEvents = "perf_event_open"
        /// The in-process sampler: per-thread CPU-time timers and a signal handler.
        case signals = "in-process CPU-time timers"
    }

    /// The symbolized profile: the same model `perch report` builds.
    public let profile: Profile
    /// How the samples were taken.
    public let mechanism: Mechanism
    private let recording: TemporaryFile

    /// Reads the recording back with the builder `perch report` uses, leaving out the samples
    /// of the profiler's own thread and of child processes.
    init(file: TemporaryFile, mechanism: Mechanism, excludingThread ownThread: Int32) throws(ProfilerError) {
        let data: PerfDataFile
        do {
            data = try PerfDataFile(path: file.path)
        } catch {
            throw .unreadableRecording("\(error)")
        }
        var profile: Profile
        do {
            profile = try ProfileBuilder(file: data, symbolizer: DWARFSymbolizer()).build()
        } catch {
            throw .unreadableRecording("\(error)")
        }
        // perf events with `inherit` also follow processes this one forks: their samples are not
        // this process's, and the sampler could not see them either.
        let threads = profile.threads
        let pid = getpid()
        profile.stacks.removeAll { stack in
            guard Int(stack.thread) < threads.count else { return false }
            let thread = threads[Int(stack.thread)]
            return thread.pid != pid || thread.tid == ownThread
        }
        self.profile = profile
        self.mechanism = mechanism
        self.recording = file
    }

    /// Every note the profile carries: the mechanism first, then what the recording left out.
    public var notes: [ReportNote] { profile.summary.notes }

    /// The perf.data file the profile was read from; it is removed when this profile is released
    /// (``write(_:to:)`` with ``ProfileFormat/perfData`` keeps a copy).
    public var recordingPath: String { recording.path }

    /// The profile in `format`, as bytes.
    public func bytes(_ format: ProfileFormat) throws(ProfilerError) -> [UInt8] {
        switch format {
        case .flameGraph:
            return FlameGraphSVG.bytes(FlameGraph(profile: profile))
        case .folded:
            return FoldedWriter.bytes(profile)
        case .pprof:
            return PprofWriter.write(profile)
        case .speedscope:
            return Array(SpeedscopeWriter.write(profile).utf8)
        case .perfData:
            do {
                return try readFile(path: recording.path, limit: Int.max)
            } catch {
                throw .output("cannot read \(recording.path): \(error)")
            }
        }
    }

    /// Writes the profile in `format` to the file at `path` (replacing it).
    public func write(_ format: ProfileFormat, to path: String) throws(ProfilerError) {
        let data = try bytes(format)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .output("cannot write \(path): \(Errno(errno).text)") }
        defer { close(fd) }
        do {
            try data.withUnsafeBytes { try writeAll(fd, $0) }
        } catch {
            throw .output("cannot write \(path): \(error)")
        }
    }
}
