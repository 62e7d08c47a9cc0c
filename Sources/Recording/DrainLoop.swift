import CPerfEvent
import PerfABI
import PerfEvents
import PerfRecords
#if canImport(Glibc)
import Glibc
#endif

/// What a recording has captured so far.
public struct RecordingProgress: Sendable, Equatable {
    public var elapsedSeconds: Double
    public var samples: UInt64
    public var lostRecords: UInt64
}

/// Moves records from the rings into the perf.data writer (or the live consumer): a
/// ``RingReader`` thread empties the rings into a ``RecordQueue``, and this loop, on the
/// caller's thread, writes what the queue holds (each pass over the rings ends with
/// FINISHED_ROUND), watches the targets' pidfds, and decides when the recording ends (the
/// target exits, Ctrl-C, or the duration elapses). Counts samples, lost records and
/// throttling, and keeps the build ids the kernel put in MMAP2 records.
///
/// Why two threads: the rings are locked memory (a user gets perf_event_mlock_kb of it), so they
/// hold only milliseconds of DWARF samples at high rates; the reader needs nothing but a wake-up
/// to empty them, while a write can wait on the disk and `perch top` aggregates every record.
final class DrainLoop {
    /// The perf.data file, unless the records only go to `consumer`.
    private let writer: PerfDataWriter?
    /// What reads the records live (`perch top`), beside or instead of the file.
    private let consumer: LiveRecordConsumer?
    private let queue: RecordQueue
    private let reader: RingReader

    var samples: UInt64 { reader.samples.load(ordering: .relaxed) }
    /// Samples per event (index into the decoder's events): the main event's and, beside it, the
    /// context-switches event's switch-out stacks. Final after ``finish()``.
    var samplesByEvent: [UInt64] { reader.samplesByEvent }
    var lost: UInt64 { reader.lost.load(ordering: .relaxed) }
    var throttles: UInt64 { reader.throttles }
    var unthrottles: UInt64 { reader.unthrottles }
    /// How the ring reader thread was scheduled (final after ``finish()``).
    var readerScheduling: RingReader.Scheduling { reader.scheduling }
    /// When the writer's failure was found (monotonic seconds), if it failed.
    private(set) var outputFailedAt: Double?
    /// The first build id seen for each mapped path (final after ``finish()``).
    var buildIDs: [String: [UInt8]] { reader.buildIDs }

    /// Starts reading the rings at once (on the reader thread), with `queueReserveBytes` of
    /// the queue populated first (``RecordingPlan/queueReserveBytes``).
    init(rings: [RingBuffer], writer: PerfDataWriter?, consumer: LiveRecordConsumer? = nil, decoder: RecordDecoder,
         queueReserveBytes: Int = 0) throws(RecordingError) {
        self.writer = writer
        self.consumer = consumer
        queue = RecordQueue(reserveBytes: queueReserveBytes)
        reader = RingReader(rings: rings, queue: queue, decoder: decoder)
        try reader.start()
    }

    deinit {
        // Not finished (an error on the way): stop at once, whatever the rings still hold.
        queue.close()
        reader.join()
    }

    /// Writes until the recording ends; calls `onProgress` about twice a second. When the
    /// writer fails (a full disk) it calls `onOutputFailed` once and writes no more: a
    /// launched command runs on to its end unrecorded, anything else ends the recording.
    func run(following target: TargetProcess, duration: Double?, start: Double,
             onProgress: ((RecordingProgress) -> Void)?, onOutputFailed: () -> Void,
             stopRequested: () -> Bool = { false }) -> RecordingResult.Ending {
        // The writer competes with the threads it profiles; where permitted (CAP_SYS_NICE), run
        // it a little ahead of them so the queue does not fill. Not real-time like the reader:
        // system-wide, the writer's own work is sampled, and a writer that always wins would
        // mostly record itself writing. Only this thread, and only until the recording ends.
        let nice = RingReader.currentNice()
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(perch_gettid()), -5)
        defer { RingReader.restorePriority(nice: nice) }
        var fds = [pollfd(fd: queue.readySignal.readFD, events: Int16(POLLIN), revents: 0)]
        let firstPidfd = fds.count
        fds += target.pidfds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var lastProgress = start
        var stopRequestedAt: Double?
        var exitedPidfds = Set<Int>()
        var outputFailed = false
        while true {
            let result = poll(&fds, nfds_t(fds.count), 100)
            writeReady()
            if let consumer, !consumer.passEnded() { return .interrupted }
            if !outputFailed, writer?.failure != nil {
                outputFailed = true
                outputFailedAt = monotonicSeconds()
                onOutputFailed()
                if !target.hasChild { return .outputFailed }
            }
            let now = monotonicSeconds()
            if let onProgress, now - lastProgress >= 0.5 {
                lastProgress = now
                onProgress(RecordingProgress(elapsedSeconds: now - start, samples: samples, lostRecords: lost))
            }
            if result > 0 {
                for index in firstPidfd..<fds.count where fds[index].revents != 0 {
                    exitedPidfds.insert(index)
                    fds[index].fd = -1  // stop polling it
                }
            }
            if target.hasChild {
                if let status = target.exitStatusIfExited() { return .targetExited(status: status) }
            } else if target.followsAttachedProcesses, exitedPidfds.count == target.pidfds.count {
                return .attachedExited
            }
            if perch_stop_requested() > 0 || stopRequested() {
                if !target.hasChild { return .interrupted }
                // The launched command got the same Ctrl-C; give it a moment, then end it.
                if stopRequestedAt == nil { stopRequestedAt = now }
                if let asked = stopRequestedAt, now - asked > 2 {
                    target.signal(SIGKILL)
                } else if let asked = stopRequestedAt, now - asked > 0.5 {
                    target.signal(SIGTERM)
                }
            }
            if let duration, now - start >= duration {
                if target.hasChild, let status = target.terminate() { return .targetExited(status: status) }
                return .durationElapsed
            }
        }
    }

    /// Takes what the rings still hold (call it after the events were disabled), writes it,
    /// and ends the reader thread: the counts are final from here on.
    func finish() {
        reader.requestFinish()
        while !reader.isDone {
            queue.readySignal.wait(timeoutMilliseconds: 100)
            writeReady()
        }
        reader.join()
        writeReady()
    }

    /// Writes the chunks the reader has handed over so far, each pass ended with FINISHED_ROUND.
    /// Only those: the reader may hand over more as fast as they are written (system-wide, the
    /// writing itself is sampled), and the loop must get back to its checks.
    private func writeReady() {
        queue.readySignal.clear()
        for _ in 0..<queue.readyCount {
            guard let chunk = queue.take() else { break }
            defer { queue.recycle(chunk) }
            let records = chunk.records
            if let writer, writer.failure == nil {
                writer.append(records)
                if chunk.endsRound { writer.appendFinishedRound() }
            }
            if let consumer {
                var offset = 0
                while records.count - offset >= 8 {
                    let size = Int(UInt16(littleEndian: records.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)))
                    guard size >= 8, offset + size <= records.count else { break }
                    consumer.consume(UnsafeRawBufferPointer(rebasing: records[offset..<(offset + size)]))
                    offset += size
                }
            }
        }
    }
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
