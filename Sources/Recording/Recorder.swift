import CPerfEvent
import PerfABI
import PerfEvents
import PerfRecords
import Synchronization
#if canImport(Glibc)
import Glibc
import ProfileModel
#endif

/// Runs one recording: plans the events, starts or attaches to the target
/// (``TargetProcess``), opens the events (``EventGroup``), writes what /proc shows of the
/// processes that existed before (``ProcSnapshot``), drains the rings into a perf.data file
/// until the target exits, the user presses Ctrl-C or the duration elapses (``DrainLoop``),
/// then writes the file's features.
public final class Recorder {
    public let options: RecordOptions
    public let settings: KernelSettings
    /// Called from the drain loop about twice a second with what has been captured so far.
    public var onProgress: ((RecordingProgress) -> Void)?
    /// Called once with the notes known when the events are open, just before a launched command
    /// is let run (so they are printed before its output, not after it).
    public var onReady: (([ReportNote]) -> Void)?
    /// Called once from `run()` when the events are open and enabled and the snapshot of the
    /// targets is written: samples flow from here on.
    public var onStarted: (() -> Void)?
    /// Whether `run()` catches SIGINT, SIGTERM and SIGHUP to end the recording (the command
    /// line's Ctrl-C), and keeps catching them until the process exits, so that the report is
    /// still written (a third one ends the process). A library recording its own process leaves
    /// the host's handlers alone and ends with ``requestStop()``.
    public var handlesStopSignals = true
    /// Notes stored in the recording beside the recorder's own (e.g. who recorded it, and how).
    public var additionalNotes: [ReportNote] = []
    private let stopRequested = Atomic<Bool>(false)
    /// Reads every record live as it is drained (`perch top`), beside the file or instead of it.
    public var consumer: LiveRecordConsumer?
    /// Whether the records go to `options.outputPath`; false only with a `consumer`.
    public var writesFile = true

    public init(options: RecordOptions, settings: KernelSettings = .read()) {
        self.options = options
        self.settings = settings
    }

    /// Ends a running `run()` from another thread, within the drain loop's poll interval
    /// (0.1 s); it then drains the rings and finishes the file as after Ctrl-C.
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
    }

    /// Records until the target is done. Throws ``RecordingError`` when nothing could be recorded.
    public func run() throws -> RecordingResult {
        raiseDescriptorLimit()
        let plan: RecordingPlan
        do {
            plan = try RecordingPlanner.plan(options, probe: PrivilegeProbe.run(settings: settings))
        } catch {
            throw RecordingError.refused(error)
        }
        var notes = RecordingNotes()
        for note in additionalNotes { notes.add(note.kind, note.text) }
        for degradation in plan.degradations { notes.add(degradation.kind, degradation.description) }
        if handlesStopSignals { perch_install_stop_handler() }

        let target = TargetProcess(target: options.target)
        let tasks = try target.prepare()
        defer { target.closePidfds() }
        let group = EventGroup(plan: plan, options: options, settings: settings)
        do {
            try group.open(tasks: tasks, notes: &notes)
        } catch {
            target.cancel()
            throw error
        }

        let descriptions = group.descriptions
        var writer: PerfDataWriter?
        if writesFile || consumer == nil {
            do {
                writer = try PerfDataWriter(path: options.outputPath, events: descriptions)
            } catch {
                target.cancel()
                throw RecordingError.output("\(error)")
            }
        }
        consumer?.begin(events: descriptions, notes: notes.notes)
        // The rings are read from here on, on a thread of their own: while /proc is read below
        // (which takes a while system-wide), their records wait in the loop's queue.
        let loop: DrainLoop
        do {
            loop = try DrainLoop(rings: group.rings, writer: writer, consumer: consumer, decoder: RecordDecoder(events: descriptions),
                             queueReserveBytes: plan.queueReserveBytes)
        } catch {
            target.cancel()
            if writer != nil { unlink(options.outputPath) }
            throw error
        }
        // Enable before reading /proc, as perf does: a process that starts in between then has the
        // kernel's own COMM and MMAP records. A duplicate is harmless; a gap leaves its samples
        // unnamed. (The synthesized records carry time 0, so they are read before any sample.)
        let start = monotonicSeconds()
        if case .launch = options.target {} else { group.enable() }
        ProcSnapshot(target: options.target, attachedPIDs: target.attachedPIDs)
            .write(into: { writer?.append($0); consumer?.consume($0) }, attributes: group.attributes, eventID: descriptions[0].ids.first ?? 0, notes: &notes)
        onReady?(notes.notes)
        if let failure = target.release() {
            if writer != nil { unlink(options.outputPath) }
            throw RecordingError.commandNotFound(target.commandName, errno: failure)
        }
        onStarted?()
        let ending = loop.run(following: target, duration: options.duration, start: start, onProgress: onProgress,
                              onOutputFailed: { group.disable() },
                              stopRequested: { self.stopRequested.load(ordering: .acquiring) })
        group.disable()
        loop.finish()
        let stoppedAt = monotonicSeconds()
        let outputFailure = writer?.failure
        if let outputFailure {
            notes.add(.recordingCutShort, "the recording was cut short after \(formatSeconds((loop.outputFailedAt ?? stoppedAt) - start)): \(outputFailure)")
        }

        var features = PerfDataFeatures()
        features.hostname = hostname()
        features.osRelease = settings.release
        features.version = "perch 0.1"
        features.arch = machineArchitecture()
        features.cpusAvailable = UInt32(sysconf(Int32(_SC_NPROCESSORS_CONF)))
        features.cpusOnline = UInt32(settings.onlineCPUs.count)
        features.commandLine = options.commandLine
        features.tracepointFormats = group.tracepointFormats.map { RecordedTracepointFormat(event: $0.event, format: $0.format) }
        if !features.tracepointFormats.isEmpty, let tracefs = Tracefs.locate() { features.tracingHeaders = tracefs.headers() }
        features.buildIDs = loop.buildIDs.sorted { $0.key < $1.key }.map { BuildIDEntry(path: $0.key, buildID: $0.value) }
        keepVDSO(in: &features, notes: &notes)
        features.recordingNotes = notes.notes.map { RecordedNote(kind: $0.kind.rawValue, text: $0.text) }
        do {
            try writer?.finish(features: features)
        } catch {
            // After a failed write the file is still read up to its last round, features or not.
            if outputFailure == nil { throw RecordingError.output("\(error)") }
        }
        let signal = handlesStopSignals ? perch_stop_signal() : 0
        return RecordingResult(ending: ending, outputPath: options.outputPath, samples: loop.samples, lostRecords: loop.lost,
                               throttleEvents: loop.throttles, unthrottleEvents: loop.unthrottles, bytesWritten: writer?.bytesWritten ?? 0,
                               notes: notes.notes, eventCount: group.events.count, ringCount: group.rings.count,
                               dataPagesPerRing: group.rings.first?.dataPageCount ?? 0, elapsedSeconds: stoppedAt - start,
                               interruptedBy: signal > 0 ? signal : nil, outputFailure: outputFailure.map { "\($0)" },
                               samplesByEvent: zip(descriptions, loop.samplesByEvent).filter { $0.1 > 0 }.map { ($0.0.name, $0.1) })
    }
}

/// "1.2 s", for notes.
func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10) s"
}

func hostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func machineArchitecture() -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// Lets Perch open one event per (thread, CPU) when attaching to many threads.
func raiseDescriptorLimit() {
    var limit = rlimit()
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(resource, &limit)
}
