import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Records taken out of the rings and waiting to be written: chunks the ring reader fills and
/// the writer empties, in order. The total is bounded (``capacityBytes``), so the recorder's
/// memory stays bounded: when the writer falls that far behind, the reader waits, the rings
/// fill and the kernel counts what it cannot write (PERF_RECORD_LOST).
///
/// Ring memory is locked and scarce (perf_event_mlock_kb); this memory is not. The queue lets
/// the rings cover only the reader's wake-up delay, and absorbs the writer's (a disk that
/// stalls, `perch top` aggregating).
///
/// The reader must never wait on memory either: at high rates, faulting fresh chunks in page by
/// page made it fall behind the rings. So a reserve of chunks is mapped (populated) before the
/// recording starts, and every chunk allocated is kept for reuse until the queue ends; the
/// queue's memory is at most its capacity.
final class RecordQueue: @unchecked Sendable {
    /// A run of whole records, in ring order.
    final class Chunk: @unchecked Sendable {
        let bytes: UnsafeMutableRawBufferPointer
        var used = 0
        /// The reader's pass over every ring ended here: the writer follows it with FINISHED_ROUND.
        var endsRound = false

        /// A chunk of `capacity` bytes; `populated` maps its pages now (MADV_POPULATE_WRITE,
        /// Linux 5.14, else a write to each page) rather than at first touch.
        init(capacity: Int, populated: Bool = false) {
            let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
            bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: pageSize)
            guard populated, let base = bytes.baseAddress else { return }
            if madvise(base, capacity, MADV_POPULATE_WRITE) != 0 {
                for offset in stride(from: 0, to: capacity, by: pageSize) { bytes[offset] = 0 }
            }
        }

        deinit { bytes.deallocate() }

        var records: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[0..<used]) }
    }

    struct State {
        var ready: [Chunk] = []
        var readyStart = 0
        var free: [Chunk] = []
        var allocated = 0
        var closed = false
    }

    /// Bytes per chunk: room for many records, the largest (64 KiB) included.
    static let chunkBytes = 1 << 20
    /// The capacity the recorder uses.
    static let defaultCapacityBytes = 128 << 20

    let capacityBytes: Int
    private let state = Mutex(State())
    /// Readable when chunks are ready (the writer polls it beside the targets' pidfds).
    let readySignal = WakeupPipe()
    /// Readable when a chunk came back (the reader waits on it when the queue is full).
    private let spaceSignal = WakeupPipe()
    /// The chunk the reader is filling (reader thread only).
    private var current: Chunk?

    /// A queue of at most `capacityBytes`, with chunks for `reserveBytes` of it (rounded up to
    /// whole chunks, at most the capacity) allocated and populated now.
    init(capacityBytes: Int = defaultCapacityBytes, reserveBytes: Int = 0) {
        self.capacityBytes = max(capacityBytes, 2 * Self.chunkBytes)
        let reserved = min(self.capacityBytes / Self.chunkBytes, (max(reserveBytes, 0) + Self.chunkBytes - 1) / Self.chunkBytes)
        let chunks = (0..<reserved).map { _ in Chunk(capacity: Self.chunkBytes, populated: true) }
        state.withLock { state in
            state.free = chunks
            state.allocated = reserved
        }
    }

    // MARK: The reader's side (one thread)

    /// Room for `count` bytes at the end of the chunk being filled, or in a new one (the full
    /// chunk is handed to the writer). Waits while the queue is at its capacity; nil once closed.
    func space(for count: Int) -> UnsafeMutableRawPointer? {
        precondition(count <= Self.chunkBytes)
        if let current, current.bytes.count - current.used >= count {
            return current.bytes.baseAddress! + current.used
        }
        if let full = current {
            current = nil
            publish(full)
        }
        while true {
            let taken: Chunk?? = state.withLock { state in
                if state.closed { return .some(nil) }
                if let chunk = state.free.popLast() { return chunk }
                if (state.allocated + 1) * Self.chunkBytes <= capacityBytes {
                    state.allocated += 1
                    return .some(Chunk(capacity: Self.chunkBytes))
                }
                return nil
            }
            switch taken {
            case .some(.some(let chunk)):
                chunk.used = 0
                chunk.endsRound = false
                current = chunk
                return chunk.bytes.baseAddress!
            case .some(.none):
                return nil
            case .none:
                spaceSignal.wait(timeoutMilliseconds: 100)
            }
        }
    }

    /// Counts `count` bytes written at the pointer ``space(for:)`` returned.
    func commit(_ count: Int) {
        current!.used += count
    }

    /// Hands the chunk being filled to the writer, marked as the end of a pass over the rings.
    func endRound() {
        guard let chunk = current, chunk.used > 0 else { return }
        chunk.endsRound = true
        current = nil
        publish(chunk)
    }

    private func publish(_ chunk: Chunk) {
        state.withLock { $0.ready.append(chunk) }
        readySignal.signal()
    }

    // MARK: The writer's side (one thread)

    /// The oldest ready chunk, if any; give it back with ``recycle(_:)``.
    func take() -> Chunk? {
        state.withLock { state in
            guard state.readyStart < state.ready.count else { return nil }
            let chunk = state.ready[state.readyStart]
            state.readyStart += 1
            if state.readyStart == state.ready.count {
                state.ready.removeAll(keepingCapacity: true)
                state.readyStart = 0
            }
            return chunk
        }
    }

    /// Chunks ready now.
    var readyCount: Int { state.withLock { $0.ready.count - $0.readyStart } }

    func recycle(_ chunk: Chunk) {
        state.withLock { $0.free.append(chunk) }
        spaceSignal.signal()
    }

    /// Ends a wait for space: the reader gets nil from then on.
    func close() {
        state.withLock { $0.closed = true }
        spaceSignal.signal()
    }

    /// Bytes in chunks now, filled or not (for tests and the curious): they stay allocated
    /// until the queue ends.
    var allocatedBytes: Int { state.withLock { $0.allocated } * Self.chunkBytes }
}

/// A non-blocking pipe used as a level-triggered wake-up: ``signal()`` makes the read end
/// readable until ``clear()``. Unlike a condition variable it can be polled beside other fds.
final class WakeupPipe: @unchecked Sendable {
    let readFD: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
        } else {
            fds = [-1, -1]
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        if readFD >= 0 { close(readFD) }
        if writeFD >= 0 { close(writeFD) }
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)  // a full pipe is readable already
    }

    func clear() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(readFD, &bytes, bytes.count) > 0 {}
    }

    /// Waits until signalled (then clears) or the timeout passes.
    func wait(timeoutMilliseconds: Int32) {
        var fd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, timeoutMilliseconds)
        clear()
    }
}
