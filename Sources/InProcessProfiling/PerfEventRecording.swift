import PerfABI
import ProfileModel
import Recording
import CInProcessSampler
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The perf_event_open mechanism: the recording `perch record -p PID` makes, of this process,
/// run by the recording pipeline itself (``Recording/Recorder``) on a background thread named
/// `perch-profiler` until ``stop()``; the profile is then built from its perf.data file.
///
/// Shared between the caller and the drain thread only through atomics and `join()`.
final class PerfEventRecording: @unchecked Sendable {
    /// Why the kernel's perf events cannot be used here (the automatic mechanism falls back).
    enum StartFailure: Error {
        case refused(String)
        case failed(ProfilerError)
    }

    private let recorder: Recorder
    private let file: TemporaryFile
    private let thread: BackgroundThread
    private let box: ResultBox

    init(options: Profiler.Options) throws(StartFailure) {
        let file: TemporaryFile
        do {
            file = try TemporaryFile(directory: options.temporaryDirectory)
        } catch {
            throw .failed(error)
        }
        var recordOptions = RecordOptions(target: .attach(pids: [getpid()]))
        recordOptions.event = .cpuClock
        recordOptions.frequency = UInt64(options.frequency)
        recordOptions.callGraph = .auto
        recordOptions.kernel = false
        recordOptions.outputPath = file.path
        recordOptions.commandLine = CommandLine.arguments
        let recorder = Recorder(options: recordOptions)
        recorder.handlesStopSignals = false
        recorder.additionalNotes = [ReportNote(.profilingMechanism, "sampled in-process through perf_event_open (cpu-clock, every thread of the process, threads started later followed by inherit); the profiler's own thread and child processes are left out")]
        self.recorder = recorder
        self.file = file

        let started = StartSignal()
        recorder.onStarted = { started.fire() }
        let outcome = ResultBox()
        do {
            let running = UncheckedRecorder(recorder: recorder)
            thread = try BackgroundThread(name: "perch-profiler") {
                outcome.drainThread.store(perch_sampler_gettid(), ordering: .releasing)
                do {
                    outcome.set(.success(try running.recorder.run()))
                } catch let error as RecordingError {
                    outcome.set(.failure(error))
                } catch {
                    outcome.set(.failure(.output("\(error)")))
                }
                started.fire()
            }
        } catch {
            throw .failed(error)
        }
        started.wait()
        self.box = outcome
        if let failure = outcome.failure {
            thread.join()
            switch failure {
            case .refused(let refusal): throw .refused(refusal.description)
            case .eventOpenFailed(let error, _) where [EPERM, EACCES, ENOSYS].contains(error.errno): throw .refused("\(failure)")
            case .ringBufferFailed: throw .refused("\(failure)")
            default: throw .failed(.output("\(failure)"))
            }
        }
    }

    /// Ends the recording and builds the profile, without the drain thread's own samples.
    func stop() throws(ProfilerError) -> InProcessProfile {
        recorder.requestStop()
        thread.join()
        guard let result = box.result else { throw .output("the recording ended without a result") }
        switch result {
        case .failure(let error):
            throw .output("\(error)")
        case .success(let recording):
            if let failure = recording.outputFailure { throw .output("the recording could not be written: \(failure)") }
            return try InProcessProfile(file: file, mechanism: .perfEvents,
                                        excludingThread: box.drainThread.load(ordering: .acquiring))
        }
    }
}

/// The recorder, handed to the drain thread: from then on only that thread uses it, apart from
/// `requestStop()` (atomic) and reading its result after `join()`.
private struct UncheckedRecorder: @unchecked Sendable {
    let recorder: Recorder
}

/// Wakes a waiting `start()` once (the events are enabled, or the recorder gave up).
final class StartSignal: Sendable {
    private let fired = Atomic<Bool>(false)

    func fire() { fired.store(true, ordering: .releasing) }

    func wait() {
        while !fired.load(ordering: .acquiring) {
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            _ = nanosleep(&pause, nil)
        }
    }
}

/// What the drain thread hands back: its tid and the recorder's result.
final class ResultBox: Sendable {
    let drainThread = Atomic<Int32>(0)
    private let stored = Mutex<Result<RecordingResult, RecordingError>?>(nil)

    func set(_ result: Result<RecordingResult, RecordingError>) { stored.withLock { $0 = result } }

    var result: Result<RecordingResult, RecordingError>? { stored.withLock { $0 } }

    var failure: RecordingError? {
        if case .failure(let error)? = result { return error }
        return nil
    }
}
