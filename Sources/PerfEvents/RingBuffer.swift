import CPerfEvent
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's mmap ring buffer of one event: a control page followed by 2^n data pages.
///
/// The reader loads `data_head` with acquire ordering, reads the records between its tail and
/// the head (copying out the ones that wrap the end of the buffer), then publishes the new tail
/// with a release store so the kernel may reuse the space.
public final class RingBuffer {
    public let event: PerfEvent
    public let dataPageCount: Int
    public let pageSize: Int
    private let base: UnsafeMutableRawPointer
    private let mappedLength: Int
    private var reader = RecordCursor()

    /// Maps `1 + dataPageCount` pages of `event`. `dataPageCount` must be a power of two.
    public init(event: PerfEvent, dataPageCount: Int) throws(PerfEventError) {
        precondition(dataPageCount > 0 && dataPageCount & (dataPageCount - 1) == 0, "data pages must be a power of two")
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let length = (1 + dataPageCount) * pageSize
        let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, event.fd, 0)
        guard let address, address != MAP_FAILED else {
            throw PerfEventError(.mmap, errno: Glibc.errno, attributes: event.attributes, pid: event.pid, cpu: event.cpu)
        }
        self.event = event
        self.dataPageCount = dataPageCount
        self.pageSize = pageSize
        self.base = address
        self.mappedLength = length
    }

    deinit { munmap(base, mappedLength) }

    /// Bytes of record data the buffer holds.
    public var dataSize: Int { dataPageCount * pageSize }

    /// Bytes written by the kernel but not yet consumed.
    public var pendingBytes: Int {
        Int(truncatingIfNeeded: perch_load_acquire_u64(base + 1024) &- (base + 1032).load(as: UInt64.self))
    }

    /// Calls `body` with every complete record now in the buffer, in order, and frees their space
    /// as it goes: the tail moves on every eighth of the buffer (at least 64 KiB, the largest
    /// record), so the kernel may write again while a full ring is still being read. Each buffer
    /// passed to `body` is valid only during the call. Returns the bytes consumed.
    @discardableResult
    public func drain(_ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let head = perch_load_acquire_u64(base + 1024)
        var tail = (base + 1032).load(as: UInt64.self)
        let data = UnsafeRawBufferPointer(start: base + pageSize, count: dataSize)
        let step = UInt64(max(dataSize / 8, 1 << 16))
        var total = 0
        while head &- tail > 0 {
            let available = head &- tail
            let end = available > step && available <= UInt64(dataSize) ? tail &+ step : head
            let consumed = reader.forEachRecord(in: data, tail: tail, head: end, body)
            guard consumed > 0 else { break }
            tail = tail &+ UInt64(consumed)
            perch_store_release_u64(base + 1032, tail)
            total += consumed
        }
        return total
    }

    /// Records skipped because their header was impossible (size < 8 or larger than the data).
    public var corruptRecords: Int { reader.corruptRecords }
}

/// Walks the records of a ring's data area between `tail` and `head` (free-running byte
/// counters), handing out each record contiguously: records that wrap the end are copied into
/// a scratch buffer that is allocated once and reused.
public struct RecordCursor {
    private var scratch: UnsafeMutableRawBufferPointer?
    public private(set) var corruptRecords = 0

    public init() {}

    /// Returns the number of bytes consumed (complete records only, or everything up to `head`
    /// when a corrupt header makes the rest unreadable).
    public mutating func forEachRecord(in data: UnsafeRawBufferPointer, tail: UInt64, head: UInt64,
                                       _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let size = UInt64(data.count)
        precondition(size > 0 && size & (size - 1) == 0)
        let available = head &- tail
        guard available > 0, available <= size else {
            if available > size { corruptRecords += 1; return Int(truncatingIfNeeded: available) }
            return 0
        }
        var offset: UInt64 = 0
        while available - offset >= 8 {
            let position = Int((tail &+ offset) & (size - 1))
            // The 8-byte header never straddles the end: records are 8-byte aligned.
            let recordSize = UInt64(data.loadUnaligned(fromByteOffset: position + 6, as: UInt16.self))
            if recordSize < 8 || recordSize & 7 != 0 || recordSize > available - offset {
                if recordSize < 8 || recordSize & 7 != 0 {
                    corruptRecords += 1
                    return Int(available)  // unrecoverable: skip to head
                }
                break  // incomplete: the kernel is still writing it
            }
            let end = position + Int(recordSize)
            if end <= data.count {
                body(UnsafeRawBufferPointer(rebasing: data[position..<end]))
            } else {
                let copy = scratchBuffer(capacity: Int(recordSize))
                let first = data.count - position
                copy.baseAddress!.copyMemory(from: data.baseAddress! + position, byteCount: first)
                (copy.baseAddress! + first).copyMemory(from: data.baseAddress!, byteCount: Int(recordSize) - first)
                body(UnsafeRawBufferPointer(start: copy.baseAddress, count: Int(recordSize)))
            }
            offset += recordSize
        }
        return Int(offset)
    }

    private mutating func scratchBuffer(capacity: Int) -> UnsafeMutableRawBufferPointer {
        if let scratch, scratch.count >= capacity { return scratch }
        scratch?.deallocate()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 65536), alignment: 8)
        scratch = buffer
        return buffer
    }
}
