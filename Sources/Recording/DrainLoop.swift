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

/// Moves records from the rings into the perf.data writer: polls the rings and the targets'
/// pidfds, drains every ring per pass (each pass ends with FINISHED_ROUND), and decides when
/// the recording ends (the target exits, Ctrl-C, or the duration elapses). Counts samples,
/// lost records and throttling, and keeps the build ids the kernel put in MMAP2 records.
final class DrainLoop {
    private let rings: [RingBuffer]
    /// The perf.data file, unless the records only go to `consumer`.
    private let writer: PerfDataWriter?
    /// What reads the records live (`perch top`), beside or instead of the file.
    private let consumer: LiveRecordConsumer?
    private let decoder: RecordDecoder

    private(set) var samples: UInt64 = 0
    /// Samples per event (index into the decoder's events): the main event's and, beside it, the
    /// context-switches event's switch-out stacks.
    private(set) var samplesByEvent: [UInt64] = []
    private(set) var lost: UInt64 = 0
    private(set) var throttles: UInt64 = 0
    private(set) var unthrottles: UInt64 = 0
    /// When the writer's failure was found (monotonic seconds), if it failed.
    private(set) var outputFailedAt: Double?
    /// The first build id seen for each mapped path.
    private(set) var buildIDs: [String: [UInt8]] = [:]
    /// A sample being rewritten with its stack copy cut to the filled bytes: room for the
    /// largest record (the size field is 16 bits).
    private let trimmed = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)

    init(rings: [RingBuffer], writer: PerfDataWriter?, consumer: LiveRecordConsumer? = nil, decoder: RecordDecoder) {
        self.rings = rings
        self.writer = writer
        self.consumer = consumer
        self.decoder = decoder
    }

    deinit {
        trimmed.deallocate()
    }

    /// Drains until the recording ends; calls `onProgress` about twice a second. When the
    /// writer fails (a full disk) it calls `onOutputFailed` once and drains no more: a
    /// launched command runs on to its end unrecorded, anything else ends the recording.
    func run(following target: TargetProcess, duration: Double?, start: Double,
             onProgress: ((RecordingProgress) -> Void)?, onOutputFailed: () -> Void,
             stopRequested: () -> Bool = { false }) -> RecordingResult.Ending {
        // The drain thread competes with the threads it profiles; where permitted (CAP_SYS_NICE),
        // run it a little ahead of them so the rings do not overflow. Only this thread: the
        // profiled command keeps its own priority.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(perch_gettid()), -5)
        var fds = rings.map { pollfd(fd: $0.event.fd, events: Int16(POLLIN), revents: 0) }
        let firstPidfd = fds.count
        fds += target.pidfds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var lastProgress = start
        var stopRequestedAt: Double?
        var exitedPidfds = Set<Int>()
        var outputFailed = false
        while true {
            let result = poll(&fds, nfds_t(fds.count), 100)
            drainAll()
            if let consumer, !consumer.passEnded() { return .interrupted }
            if !outputFailed, writer?.failure != nil {
                outputFailed = true
                outputFailedAt = monotonicSeconds()
                onOutputFailed()
                if !target.hasChild { return .outputFailed }
                for index in 0..<firstPidfd { fds[index].fd = -1 }  // nothing more to drain
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

    /// One pass over every ring, ended with FINISHED_ROUND when it wrote anything.
    func drainAll() {
        guard writer?.failure == nil else { return }
        var wrote = false
        for ring in rings {
            ring.drain { record in
                if writer == nil || !appendTrimmingStackCopy(record) { writer?.append(record) }
                consumer?.consume(record)
                wrote = true
                count(record)
            }
        }
        if wrote { writer?.appendFinishedRound() }
    }

    /// Appends a sample whose user stack copy is larger than the stack the kernel found
    /// (`dyn_size`, the bytes below the top of the stack's mapping) with the copy cut to those
    /// bytes, rounded up to 8 as the format wants; returns false for every other record, to be
    /// written as it is. The kernel reserves the full requested copy in the ring for every
    /// sample but fills only `dyn_size` of it: with `auto`'s large copies most of each sample
    /// would otherwise be unfilled bytes in the file. perf reads such samples as the kernel's
    /// own (a copy cut short near the top of the address space has the same shape).
    private func appendTrimmingStackCopy(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 8, RecordDecoder.type(of: bytes) == RecordType.sample.rawValue else { return false }
        let declared = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        guard declared <= bytes.count else { return false }
        let record = UnsafeRawBufferPointer(rebasing: bytes[0..<declared])
        guard let sample = try? decoder.decodeSample(record), let stack = sample.userStack.baseAddress,
              let base = record.baseAddress else { return false }
        let start = stack - base
        guard start >= 16 else { return false }
        let copied = Int(record.loadUnaligned(fromByteOffset: start - 8, as: UInt64.self))
        let filled = sample.userStack.count
        let kept = (filled + 7) & ~7
        let end = start + copied + 8  // after dyn_size
        guard kept < copied, end <= record.count else { return false }
        let size = record.count - (copied - kept) - (kept == 0 ? 8 : 0)
        let out = trimmed
        out.copyMemory(from: UnsafeRawBufferPointer(rebasing: record[0..<(start - 8)]))
        out.storeBytes(of: UInt16(size).littleEndian, toByteOffset: 6, as: UInt16.self)
        out.storeBytes(of: UInt64(kept).littleEndian, toByteOffset: start - 8, as: UInt64.self)
        var at = start
        if kept > 0 {
            (out.baseAddress! + at).copyMemory(from: base + start, byteCount: filled)
            (out.baseAddress! + at + filled).initializeMemory(as: UInt8.self, repeating: 0, count: kept - filled)
            at += kept
            out.storeBytes(of: UInt64(filled).littleEndian, toByteOffset: at, as: UInt64.self)
            at += 8
        }
        (out.baseAddress! + at).copyMemory(from: base + end, byteCount: record.count - end)
        writer?.append(UnsafeRawBufferPointer(rebasing: out[0..<size]))
        return true
    }

    private func count(_ record: UnsafeRawBufferPointer) {
        switch RecordDecoder.type(of: record) {
        case RecordType.sample.rawValue:
            samples += 1
            let event = decoder.eventIndex(of: record)
            if event >= samplesByEvent.count { samplesByEvent += repeatElement(0, count: event + 1 - samplesByEvent.count) }
            samplesByEvent[event] += 1
        case RecordType.lost.rawValue:
            if case .lost(_, let count, _)? = try? decoder.decode(record) { lost += count }
        case RecordType.throttle.rawValue:
            throttles += 1
        case RecordType.unthrottle.rawValue:
            unthrottles += 1
        case RecordType.mmap2.rawValue:
            if case .mmap(let mmap)? = try? decoder.decode(record), let buildID = mmap.buildID, !buildID.isEmpty {
                let path = mmap.filename
                if buildIDs[path] == nil { buildIDs[path] = Array(buildID) }
            }
        default:
            break
        }
    }
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
