import CPerfEvent
import PerfABI
import PerfEvents
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Empties the rings on a thread of its own, so they never wait for the file: wakes when a ring
/// passes its watermark (or every 100 ms), copies each record into the ``RecordQueue`` (a
/// sample's stack copy cut to the bytes the kernel filled) without decoding anything else, and
/// moves each ring's tail on as it goes. It counts samples, lost records and throttling, and
/// keeps the build ids of MMAP2 records; writing and aggregating happen on the caller's thread.
///
/// Where the user may (CAP_SYS_NICE: root), the thread runs under SCHED_FIFO (priority 2, above
/// the writer's 1): it then runs within microseconds of a ring's wake-up whatever the load, and
/// sleeps in poll(2) otherwise (its only work is a copy of what the kernel wrote). Elsewhere it
/// asks for nice -10, then -5, and keeps the default when refused.
final class RingReader: @unchecked Sendable {
    /// How the reader thread was scheduled.
    enum Scheduling: Sendable, Equatable {
        case realtime, raisedNice(Int32), normal
    }

    private let rings: [RingBuffer]
    private let queue: RecordQueue
    private let decoder: RecordDecoder
    private let stopSignal = WakeupPipe()
    private let finishing = Atomic<Bool>(false)
    private let ownPID = getpid()
    private let done = Atomic<Bool>(false)
    private var thread: pthread_t?

    /// Read by the status line while the thread runs.
    let samples = Atomic<UInt64>(0)
    let lost = Atomic<UInt64>(0)
    /// Read after ``finish()``.
    private(set) var samplesByEvent: [UInt64] = []
    private(set) var throttles: UInt64 = 0
    private(set) var unthrottles: UInt64 = 0
    private(set) var buildIDs: [String: [UInt8]] = [:]
    private(set) var scheduling: Scheduling = .normal

    init(rings: [RingBuffer], queue: RecordQueue, decoder: RecordDecoder) {
        self.rings = rings
        self.queue = queue
        self.decoder = decoder
    }

    /// Starts the thread.
    func start() throws(RecordingError) {
        var created = pthread_t()
        let context = Unmanaged.passRetained(self)
        let result = pthread_create(&created, nil, { context in
            let reader = Unmanaged<RingReader>.fromOpaque(context!).takeRetainedValue()
            reader.run()
            return nil
        }, context.toOpaque())
        guard result == 0 else {
            context.release()
            throw RecordingError.output("cannot start the thread that reads the ring buffers: \(String(cString: strerror(result)))")
        }
        thread = created
    }

    /// Asks for one last pass (call it after the events were disabled); the thread then ends,
    /// and ``isDone`` turns true with the queue's ready signal. The caller keeps emptying the
    /// queue meanwhile (a full queue holds the reader), then calls ``join()``.
    func requestFinish() {
        finishing.store(true, ordering: .releasing)
        stopSignal.signal()
    }

    /// Whether the thread ended (or never started).
    var isDone: Bool { thread == nil || done.load(ordering: .acquiring) }

    /// Waits for the thread to end; the counts are final from here on.
    func join() {
        guard let thread else { return }
        requestFinish()
        pthread_join(thread, nil)
        self.thread = nil
    }

    private func run() {
        // Ctrl-C and friends go to the thread that decides when the recording ends.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGWINCH] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        scheduling = Self.raisePriority()

        var fds = rings.map { pollfd(fd: $0.event.fd, events: Int16(POLLIN), revents: 0) }
        fds.append(pollfd(fd: stopSignal.readFD, events: Int16(POLLIN), revents: 0))
        while true {
            let last = finishing.load(ordering: .acquiring)
            pass()
            if last { break }
            _ = poll(&fds, nfds_t(fds.count), 100)
            for index in 0..<rings.count where fds[index].revents & Int16(POLLHUP | POLLERR) != 0 {
                // The owner's task exited: the fd stays readable for ever. Its ring is still
                // drained on every pass (other tasks' events write into it).
                fds[index].fd = -1
            }
        }
        queue.endRound()
        done.store(true, ordering: .releasing)
        queue.readySignal.signal()
    }

    /// SCHED_FIFO at `realtimePriority` where allowed (reset on fork: nothing the thread starts
    /// inherits it), else the lowest nice value granted.
    static func raisePriority(realtimePriority: Int32 = 2) -> Scheduling {
        var parameters = sched_param()
        parameters.sched_priority = realtimePriority
        let resetOnFork: Int32 = 0x4000_0000  // SCHED_RESET_ON_FORK
        if sched_setscheduler(0, Int32(SCHED_FIFO) | resetOnFork, &parameters) == 0 { return .realtime }
        let tid = id_t(perch_gettid())
        for nice: Int32 in [-10, -5] where setpriority(__priority_which_t(PRIO_PROCESS.rawValue), tid, nice) == 0 {
            return .raisedNice(nice)
        }
        return .normal
    }

    /// The calling thread's nice value, to restore after ``raisePriority(realtimePriority:)``.
    static func currentNice() -> Int32 {
        getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(perch_gettid()))
    }

    /// Puts the calling thread back under the normal scheduler at `nice`.
    static func restorePriority(nice: Int32) {
        var parameters = sched_param()
        parameters.sched_priority = 0
        _ = sched_setscheduler(0, Int32(SCHED_OTHER), &parameters)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(perch_gettid()), nice)
    }

    /// One pass over every ring, ended with a round mark when it took anything.
    private func pass() {
        var took = false
        for ring in rings {
            ring.drain { record in
                took = true
                count(record)
                copyOut(record)
            }
        }
        if took { queue.endRound() }
    }

    private func copyOut(_ record: UnsafeRawBufferPointer) {
        if copyTrimmingStackCopy(record) { return }
        guard let destination = queue.space(for: record.count) else { return }
        destination.copyMemory(from: record.baseAddress!, byteCount: record.count)
        queue.commit(record.count)
    }

    /// Copies a sample whose user stack copy is larger than the stack the kernel found
    /// (`dyn_size`, the bytes below the top of the stack's mapping) with the copy cut to those
    /// bytes, rounded up to 8 as the format wants; returns false for every other record, to be
    /// copied as it is. The kernel reserves the full requested copy in the ring for every
    /// sample but fills only `dyn_size` of it: with large copies most of each sample would
    /// otherwise be unfilled bytes in the file. perf reads such samples as the kernel's own (a
    /// copy cut short near the top of the address space has the same shape).
    private func copyTrimmingStackCopy(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 8, RecordDecoder.type(of: bytes) == RecordType.sample.rawValue else { return false }
        let declared = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)))
        guard declared <= bytes.count else { return false }
        let record = UnsafeRawBufferPointer(rebasing: bytes[0..<declared])
        guard let sample = try? decoder.decodeSample(record), let stack = sample.userStack.baseAddress,
              let base = record.baseAddress else { return false }
        let start = stack - base
        guard start >= 16 else { return false }
        let copied = Int(record.loadUnaligned(fromByteOffset: start - 8, as: UInt64.self))
        // Perch's own samples (system-wide) keep their kernel chain and user IP but not their
        // stack copy: writing a copy costs more CPU than the sample it came from, so at high
        // rates the recorder's samples of itself would feed on themselves.
        let filled = sample.pid == ownPID ? 0 : sample.userStack.count
        let kept = (filled + 7) & ~7
        let end = start + copied + 8  // after dyn_size
        guard kept < copied, end <= record.count else { return false }
        let size = record.count - (copied - kept) - (kept == 0 ? 8 : 0)
        guard let out = queue.space(for: size) else { return true }
        out.copyMemory(from: base, byteCount: start - 8)
        out.storeBytes(of: UInt16(size).littleEndian, toByteOffset: 6, as: UInt16.self)
        out.storeBytes(of: UInt64(kept).littleEndian, toByteOffset: start - 8, as: UInt64.self)
        var at = start
        if kept > 0 {
            (out + at).copyMemory(from: base + start, byteCount: filled)
            (out + at + filled).initializeMemory(as: UInt8.self, repeating: 0, count: kept - filled)
            at += kept
            out.storeBytes(of: UInt64(filled).littleEndian, toByteOffset: at, as: UInt64.self)
            at += 8
        }
        (out + at).copyMemory(from: base + end, byteCount: record.count - end)
        queue.commit(size)
        return true
    }

    private func count(_ record: UnsafeRawBufferPointer) {
        switch RecordDecoder.type(of: record) {
        case RecordType.sample.rawValue:
            samples.add(1, ordering: .relaxed)
            let event = decoder.eventIndex(of: record)
            if event >= samplesByEvent.count { samplesByEvent += repeatElement(0, count: event + 1 - samplesByEvent.count) }
            samplesByEvent[event] += 1
        case RecordType.lost.rawValue:
            if case .lost(_, let count, _)? = try? decoder.decode(record) { lost.add(count, ordering: .relaxed) }
        case RecordType.lostSamples.rawValue:
            if case .lostSamples(let count, _)? = try? decoder.decode(record) { lost.add(count, ordering: .relaxed) }
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
