import CInProcessSampler
import PerfABI
import PerfRecords
import ProfileModel
import Recording
import Synchronization
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The in-process mechanism, for when perf_event_open is not permitted: a CPU-time timer per
/// thread raises a signal whose handler (C, async-signal-safe) copies the registers and the top
/// of the stack into a preallocated buffer; a background thread named `perch-sampler` turns the
/// copies into the SAMPLE records the kernel would have written (REGS_USER, STACK_USER), after
/// COMM and MMAP2 records for the process, in a perf.data file. The profile is built from that
/// file like any recording, so DWARF CFI unwinds the stacks.
///
/// The background thread owns the timers and the writer; the caller only sets `stopping` and
/// joins it.
final class SignalSampler: @unchecked Sendable {
    private let options: Profiler.Options
    private let file: TemporaryFile
    private let writer: PerfDataWriter
    private let encoder: SampleEncoder
    private let reason: String
    private var thread: BackgroundThread?
    private let stopping = Atomic<Bool>(false)
    private let started = StartSignal()
    private let drainThread = Atomic<Int32>(0)
    private let startFailure = Mutex<String?>(nil)

    // Owned by the background thread while it runs, then by stop().
    /// Armed timers by thread; glibc's first timer id is 0, which Swift sees as a nil `timer_t`.
    private var timers: [Int32: ArmedTimer] = [:]
    private var samples: UInt64 = 0
    private var unsampledThreads = 0
    private var firstTimerFailure: String?

    init(options: Profiler.Options, reason: String) throws(ProfilerError) {
        self.options = options
        self.reason = reason
        file = try TemporaryFile(directory: options.temporaryDirectory)
        let interval = max(1, 1_000_000_000 / UInt64(options.frequency))
        encoder = SampleEncoder(intervalNanoseconds: interval, stackCopyBytes: options.stackCopyBytes)
        do {
            writer = try PerfDataWriter(path: file.path, events: [EventDescription(attributes: encoder.attributes, ids: [SampleEncoder.eventID])])
        } catch {
            throw .output("cannot write the temporary recording \(file.path): \(error)")
        }
        let pid = getpid()
        let synthesizer = RecordSynthesizer(attributes: encoder.attributes, eventID: SampleEncoder.eventID)
        synthesizer.comms(pid: pid) { writer.append($0) }
        synthesizer.mmaps(pid: pid) { writer.append($0) }

        var code = perch_sampler_configure(options.bufferedSamples, options.stackCopyBytes)
        guard code == 0 else { throw .samplerUnavailable("cannot allocate the sample buffer: \(String(cString: strerror(code)))") }
        StackRanges.publish()
        code = perch_sampler_install(options.signal)
        guard code == 0 else {
            perch_sampler_release_buffer()
            throw .samplerUnavailable("cannot install the handler of signal \(options.signal): \(String(cString: strerror(code)))")
        }
        perch_sampler_set_active(1)
        do {
            thread = try BackgroundThread(name: "perch-sampler") { [self] in run() }
        } catch {
            perch_sampler_set_active(0)
            perch_sampler_release_buffer()
            throw error
        }
        started.wait()
        if let failure = startFailure.withLock({ $0 }) {
            thread?.join()
            perch_sampler_set_active(0)
            perch_sampler_release_buffer()
            throw .samplerUnavailable(failure)
        }
    }

    /// The background thread: arms a timer on every thread (but itself), then drains the buffer
    /// every 20 ms and picks up threads started since, until `stop()`.
    private func run() {
        drainThread.store(perch_sampler_gettid(), ordering: .releasing)
        let own = perch_sampler_gettid()
        var firstFailure: String?
        for tid in threadsOfThisProcess() where tid != own {
            if let failure = arm(tid), firstFailure == nil { firstFailure = failure }
        }
        if timers.isEmpty {
            startFailure.withLock { $0 = firstFailure ?? "no thread to sample" }
            started.fire()
            return
        }
        started.fire()
        var sweeps = 0
        while !stopping.load(ordering: .acquiring) {
            var pause = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            _ = nanosleep(&pause, nil)
            drain()
            sweeps += 1
            if sweeps % 5 == 0 { followNewThreads(excluding: own) }
        }
        for timer in timers.values { timer_delete(timer.id) }
        timers.removeAll()
    }

    /// A timer on thread `tid`; the error's text when the kernel refuses one (a thread that has
    /// exited meanwhile is skipped silently).
    private func arm(_ tid: Int32) -> String? {
        var timer: timer_t?
        let interval = Int(encoder.intervalNanoseconds)
        let code = perch_sampler_create_timer(tid, interval, options.signal, &timer)
        if code == 0 {
            timers[tid] = ArmedTimer(id: timer)
            return nil
        }
        if code == ESRCH || code == EINVAL { return nil }
        unsampledThreads += 1
        let failure = "timer_create for thread \(tid): \(String(cString: strerror(code)))"
        if firstTimerFailure == nil { firstTimerFailure = failure }
        return failure
    }

    /// Arms timers on threads started since the last look, after naming them and publishing the
    /// memory they may run on (their stacks are new mappings).
    private func followNewThreads(excluding own: Int32) {
        let fresh = threadsOfThisProcess().filter { $0 != own && timers[$0] == nil }
        guard !fresh.isEmpty else { return }
        StackRanges.publish()
        let now = monotonicNanoseconds()
        let pid = getpid()
        for tid in fresh {
            if let name = threadName(tid) {
                encoder.comm(pid: pid, tid: tid, name: name, time: now).withUnsafeBytes { writer.append($0) }
            }
            _ = arm(tid)
        }
    }

    /// Moves every completed sample from the buffer into the file, in time order, as one round.
    private func drain() {
        var batch: [(time: UInt64, record: [UInt8])] = []
        let pid = getpid()
        for slot in 0..<perch_sampler_slot_count() {
            guard let sample = perch_sampler_ready(slot) else { continue }
            batch.append((sample.pointee.time, encoder.sample(sample, pid: pid)))
            perch_sampler_release(slot)
        }
        guard !batch.isEmpty else { return }
        batch.sort { $0.time < $1.time }
        for entry in batch { entry.record.withUnsafeBytes { writer.append($0) } }
        writer.appendFinishedRound()
        samples += UInt64(batch.count)
    }

    /// Stops the timers, writes what is left and the file's features, and builds the profile.
    func stop() throws(ProfilerError) -> InProcessProfile {
        stopping.store(true, ordering: .releasing)
        thread?.join()
        perch_sampler_set_active(0)
        drain()
        let lost = perch_sampler_lost()
        let unknownStacks = perch_sampler_unknown_stacks()
        perch_sampler_release_buffer()

        var notes = [ReportNote(.profilingMechanism, "sampled in-process with per-thread CPU-time timers (signal \(options.signal)): \(reason). Threads are followed within 0.1 s of starting; kernel frames are not sampled, and libraries loaded after the profile started show as [unknown]")]
        if lost > 0 {
            notes.append(ReportNote(.recordingCutShort, "\(lost) samples were dropped because the sample buffer (\(options.bufferedSamples) samples) was full; raise Profiler.Options.bufferedSamples"))
        }
        if unknownStacks > 0 {
            notes.append(ReportNote(.stacksTruncated, "\(unknownStacks) samples ran on a stack the sampler did not know, so only their sampled frame is shown"))
        }
        if unsampledThreads > 0 {
            notes.append(ReportNote(.profilingMechanism, "\(unsampledThreads) threads could not get a CPU-time timer and were not sampled (\(firstTimerFailure ?? "")"))
        }
        var features = PerfDataFeatures()
        features.version = "perch 0.1 (in-process sampler)"
        features.arch = machine()
        features.commandLine = CommandLine.arguments
        features.cpusOnline = UInt32(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        features.cpusAvailable = UInt32(max(1, sysconf(Int32(_SC_NPROCESSORS_CONF))))
        features.recordingNotes = notes.map { RecordedNote(kind: $0.kind.rawValue, text: $0.text) }
        if let failure = writer.failure { throw .output("the recording could not be written: \(failure)") }
        do {
            try writer.finish(features: features)
        } catch {
            throw .output("the recording could not be written: \(error)")
        }
        return try InProcessProfile(file: file, mechanism: .signals, excludingThread: drainThread.load(ordering: .acquiring))
    }
}

struct ArmedTimer {
    let id: timer_t?
}

/// The thread ids in /proc/self/task.
func threadsOfThisProcess() -> [Int32] {
    NumericDirectoryEntries.list("/proc/self/task") ?? []
}

/// A thread's name from /proc/self/task/TID/comm.
func threadName(_ tid: Int32) -> String? {
    guard let file = fopen("/proc/self/task/\(tid)/comm", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.hasSuffix("\n") ? String(name.dropLast()) : name
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

func machine() -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
