import ProfileModel
import Recording
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Profiles the current process from inside it, over all its threads.
///
/// ```swift
/// let profiler = try Profiler()
/// try profiler.start()
/// work()
/// let profile = try profiler.stop()
/// try profile.write(.flameGraph, to: "work.svg")
/// ```
///
/// The result is an ``InProcessProfile``: the same ``ProfileModel/Profile`` that `perch record`
/// and `perch report` build (read back from a perf.data file by the same builder), writable as an
/// SVG flame graph, folded stacks, pprof, speedscope, or the perf.data file itself.
///
/// Two mechanisms sample the threads (see ``Mechanism``); the profile says which one did, in
/// ``InProcessProfile/mechanism`` and in a note every output prints:
/// - **perf_event_open**, where the kernel allows it: the recording `perch record -p PID` makes
///   of this process (cpu-clock, one event per thread and CPU, threads created later followed
///   through `inherit`), drained by one background thread named `perch-profiler` whose own
///   samples are left out of the profile.
/// - **The in-process sampler** where it does not (a seccomp filter in a container,
///   `kernel.perf_event_paranoid` 3 on kernels that have it) or when asked for: a CPU-time timer
///   per thread (`timer_create` on the thread's `CLOCK_THREAD_CPUTIME_ID` clock, delivered with
///   `SIGEV_THREAD_ID`) whose signal handler copies the interrupted registers and the top of the
///   stack into a preallocated lock-free buffer. The copies become the same SAMPLE records the
///   kernel writes, and DWARF CFI unwinds them: stacks are right where frame pointers are missing.
///
/// One profiler runs at a time in a process.
public final class Profiler: Sendable {
    /// How the threads are sampled.
    public enum Mechanism: Sendable, Equatable, CustomStringConvertible {
        /// perf_event_open when the kernel permits it, else the in-process sampler.
        case automatic
        /// perf_event_open only: `start()` throws ``ProfilerError/perfEventsUnavailable(_:)``
        /// when the kernel refuses it.
        case perfEvents
        /// The in-process sampler: per-thread CPU-time timers and a signal handler.
        case signals

        public var description: String {
            switch self {
            case .automatic: "automatic"
            case .perfEvents: "perf_event_open"
            case .signals: "in-process CPU-time timers"
            }
        }
    }

    /// What to sample and how.
    public struct Options: Sendable {
        /// Which mechanism samples the threads; ``Mechanism/automatic`` by default.
        public var mechanism: Mechanism = .automatic
        /// Samples per second of each thread's CPU time. The in-process sampler's timers fire
        /// on the kernel's tick, so it takes at most `CONFIG_HZ` (often 250) samples per second
        /// per thread; each sample's period then carries the CPU time it stands for.
        public var frequency: Int = 1000
        /// Bytes of each sampled thread's stack copied for DWARF unwinding (a multiple of 8,
        /// 512 to 32768). perf_event_open copies 4096 and walks frame pointers beyond.
        public var stackCopyBytes: Int = 8192
        /// Samples the in-process sampler holds before its background thread writes them out;
        /// more are counted as lost.
        public var bufferedSamples: Int = 4096
        /// The signal the in-process sampler's timers raise. Its handler stays installed after
        /// the first profile (doing nothing between profiles).
        public var signal: Int32 = SIGPROF
        /// Where the temporary perf.data is written (`TMPDIR`, else `/tmp`).
        public var temporaryDirectory: String = {
            if let directory = getenv("TMPDIR"), directory.pointee != 0 { return String(cString: directory) }
            return "/tmp"
        }()

        public init() {}

        func validated() throws(ProfilerError) -> Options {
            guard frequency >= 1, frequency <= 100_000 else { throw .invalidOptions("frequency \(frequency) is not within 1...100000 Hz") }
            guard stackCopyBytes >= 512, stackCopyBytes <= 32768, stackCopyBytes % 8 == 0 else {
                throw .invalidOptions("stackCopyBytes \(stackCopyBytes) is not a multiple of 8 within 512...32768")
            }
            guard bufferedSamples >= 16, bufferedSamples <= 1 << 20 else { throw .invalidOptions("bufferedSamples \(bufferedSamples) is not within 16...1048576") }
            return self
        }
    }

    public let options: Options
    private let session = Mutex<Session?>(nil)

    /// A profiler with `options`; throws ``ProfilerError/invalidOptions(_:)`` for options out of bounds.
    public init(_ options: Options = Options()) throws(ProfilerError) {
        self.options = try options.validated()
    }

    /// Starts sampling every thread of the process.
    ///
    /// With ``Mechanism/automatic`` a refusal of perf_event_open makes the profiler fall back to
    /// the in-process sampler, and the profile says why.
    public func start() throws(ProfilerError) {
        try session.withLock { (session: inout Session?) throws(ProfilerError) in
            guard session == nil else { throw ProfilerError.alreadyRunning }
            try Self.claimProcess()
            do throws(ProfilerError) {
                session = try Self.startSession(options)
            } catch {
                Self.releaseProcess()
                throw error
            }
        }
    }

    /// Stops sampling and builds the profile (symbolizing it takes a moment, as `perch report` does).
    public func stop() throws(ProfilerError) -> InProcessProfile {
        let running = session.withLock { (session: inout Session?) -> Session? in
            defer { session = nil }
            return session
        }
        guard let running else { throw .notRunning }
        defer { Self.releaseProcess() }
        switch running {
        case .perfEvents(let recording): return try recording.stop()
        case .signals(let sampler): return try sampler.stop()
        }
    }

    /// A profiler released while running stops sampling (its profile is dropped).
    deinit {
        _ = try? stop()
    }

    /// Whether the profiler is sampling.
    public var isRunning: Bool { session.withLock { $0 != nil } }

    /// Profiles every thread of the process while `body` runs.
    public static func profile(options: Options = Options(), during body: () throws -> Void) throws -> InProcessProfile {
        let profiler = try Profiler(options)
        try profiler.start()
        do {
            try body()
        } catch {
            _ = try? profiler.stop()
            throw error
        }
        return try profiler.stop()
    }

    /// Profiles every thread of the process for `duration`, calling `body` over and over on the
    /// calling thread until the time is up (a benchmark's loop); without `body` the calling
    /// thread sleeps while the others are sampled.
    public static func profile(for duration: Duration, options: Options = Options(),
                               repeating body: (() -> Void)? = nil) throws(ProfilerError) -> InProcessProfile {
        let profiler = try Profiler(options)
        try profiler.start()
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: duration)
        if let body {
            repeat { body() } while clock.now < end
        } else {
            while clock.now < end {
                let left = clock.now.duration(to: end).components
                var request = timespec(tv_sec: Int(left.seconds), tv_nsec: Int(left.attoseconds / 1_000_000_000))
                _ = nanosleep(&request, nil)
            }
        }
        return try profiler.stop()
    }

    // MARK: - Sessions

    private enum Session {
        case perfEvents(PerfEventRecording)
        case signals(SignalSampler)
    }

    private static func startSession(_ options: Options) throws(ProfilerError) -> Session {
        switch options.mechanism {
        case .signals:
            return .signals(try SignalSampler(options: options, reason: "the in-process sampler was asked for (Profiler.Options.mechanism = .signals)"))
        case .perfEvents, .automatic:
            do {
                return .perfEvents(try PerfEventRecording(options: options))
            } catch {
                switch error {
                case .failed(let failure):
                    throw failure
                case .refused(let reason) where options.mechanism == .perfEvents:
                    throw .perfEventsUnavailable(reason)
                case .refused(let reason):
                    return .signals(try SignalSampler(options: options, reason: "perf_event_open was refused (\(reason))"))
                }
            }
        }
    }

    /// One profiler at a time per process: the sampler's signal handler and buffer are global.
    private static let processClaimed = Atomic<Bool>(false)

    private static func claimProcess() throws(ProfilerError) {
        guard processClaimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            throw .alreadyRunning
        }
    }

    private static func releaseProcess() {
        processClaimed.store(false, ordering: .releasing)
    }
}
