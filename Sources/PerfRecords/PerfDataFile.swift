import Dispatch
import Synchronization
import PerfABI
#if canImport(Glibc)
import Glibc
#endif

/// A perf.data file mapped read-only: its events, features and records, from Perch or `perf record`.
public final class PerfDataFile {
    public let path: String
    public let events: [EventDescription]
    public let features: PerfDataFeatures
    /// Whether the recording that wrote this file never finished it (killed, crashed, or its
    /// disk filled up): no feature sections, and the data read up to the last round the header
    /// counts, or to the end of the file when it counts none (a killed `perf record`). Such a
    /// file's features carry a `recordingCutShort` note saying so.
    public let isCutShort: Bool
    private let base: UnsafeRawPointer
    private let length: Int
    private let data: Range<Int>

    public init(path: String) throws(PerfDataError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(path: path, errno: errno) }
        let length = Int(info.st_size)
        guard length >= 16 else { throw .notPerfData(path: path) }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw .cannotOpen(path: path, errno: errno)
        }
        let bytes = UnsafeRawBufferPointer(start: mapped, count: length)
        let parsed: Parsed
        do {
            parsed = try Self.parse(bytes, path: path)
        } catch {
            munmap(mapped, length)
            throw error
        }
        self.events = parsed.events
        self.features = parsed.features
        self.isCutShort = parsed.isCutShort
        self.path = path
        if let method = parsed.features.compressionMethod {
            // perf record -z: the records are read from their expansion, not from the file.
            defer { munmap(mapped, length) }
            guard method == CompressedRecords.zstdMethod else {
                throw .malformed(path: path, reason: "its records are compressed with method \(method), which Perch does not know (perf's zstd is 1)")
            }
            let expanded = try CompressedRecords.expand(UnsafeRawBufferPointer(rebasing: bytes[parsed.data]), path: path, isCutShort: parsed.isCutShort)
            if let start = expanded.baseAddress {
                self.base = start
                self.length = expanded.count
                self.data = 0..<expanded.count
                return
            }
            // Nothing inside: an empty data section over an anonymous page.
            self.base = UnsafeRawPointer(mmap(nil, 1, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!)
            self.length = 1
            self.data = 0..<0
            return
        }
        madvise(mapped, length, MADV_SEQUENTIAL)  // read front to back: larger readahead
        self.data = parsed.data
        self.base = UnsafeRawPointer(mapped)
        self.length = length
    }

    /// Maps the data section's pages ahead of `forEachRecord` and releases them behind it, on
    /// another thread.
    private let pager = DispatchQueue(label: "perch.perfdata.pager", qos: .userInitiated)
    private let paging = PagingState()
    /// How far ahead of the reader pages are mapped, in steps of this size.
    private static let prefetchStep = 2 << 20
    /// One read per this many bytes maps them all: a read fault on a file mapping maps the
    /// pages around it already in the page cache (the kernel's fault-around, 64 KiB by default,
    /// aligned to it).
    private static let faultAroundBytes = 64 << 10
    /// Releases wait for the pager thread while it has at most this many jobs queued; beyond,
    /// (a busy machine that leaves it little time) the reader releases itself, so memory stays flat.
    private static let pagerBacklog = 4
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// What the reader and the pager thread share.
    private final class PagingState: Sendable {
        /// The end of the highest range released (an address, page-aligned): the reader is
        /// past it, so the pager thread maps nothing below.
        let releasedBelow = Atomic<Int>(0)
        /// Jobs queued on the pager thread and not finished.
        let backlog = Atomic<Int>(0)
        /// The sum of the bytes the pager read, so that the reads stay.
        let readSum = Atomic<UInt8>(0)
    }

    deinit {
        pager.sync {}  // no read or release may run on an unmapped range
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    /// Asks the pager thread to map the data section's pages in `range` (reading them in from
    /// the file first when they are not in the page cache), so the reader does not stop to fault
    /// at each page's first touch. It reads one byte per fault-around block: on a 1M-sample DWARF
    /// file that costs a third of the CPU time MADV_POPULATE_READ took (which walks every page,
    /// and kept the reader's loads stalled while it ran). Blocks the reader is past are skipped,
    /// and one it went past (and released) during the read is released again.
    private func prefetch(_ range: Range<Int>) {
        let start = Int(bitPattern: base) + data.lowerBound + range.lowerBound
        let end = start + range.count
        let paging = self.paging
        paging.backlog.add(1, ordering: .relaxed)
        pager.async {
            defer { paging.backlog.subtract(1, ordering: .relaxed) }
            let block = PerfDataFile.faultAroundBytes
            var address = start / block * block
            var sum: UInt8 = 0
            while address < end {
                let at = max(address, start)
                if at >= paging.releasedBelow.load(ordering: .sequentiallyConsistent) {
                    sum &+= UnsafePointer<UInt8>(bitPattern: at)!.pointee
                    let released = paging.releasedBelow.load(ordering: .sequentiallyConsistent)
                    // (Not below the range's first page: the block may start below the mapping.)
                    let low = max(address, start / PerfDataFile.pageSize * PerfDataFile.pageSize)
                    if at < released, min(address + block, released) > low {
                        _ = madvise(UnsafeMutableRawPointer(bitPattern: low), min(address + block, released) - low, MADV_DONTNEED)
                    }
                }
                address += block
            }
            paging.readSum.store(sum, ordering: .relaxed)
        }
    }

    /// The raw bytes of the data section.
    public var dataBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + data.lowerBound, count: data.count)
    }

    /// Tells the kernel the data section below `range.upperBound` (an offset into it) will not
    /// be read again, so the pages of `range` leave this process's memory (read back from the file
    /// if touched after all); the page `range` ends in partway stays. Releasing in consecutive
    /// ranges releases each page once.
    public func releaseData(_ range: Range<Int>) {
        let pageSize = Self.pageSize
        let start = (data.lowerBound + max(range.lowerBound, 0)) / pageSize * pageSize
        let end = (data.lowerBound + min(range.upperBound, data.count)) / pageSize * pageSize
        guard end > start else { return }
        let address = Int(bitPattern: base) + start, count = end - start
        if address + count > paging.releasedBelow.load(ordering: .relaxed) {  // only the reader stores it
            paging.releasedBelow.store(address + count, ordering: .sequentiallyConsistent)
        }
        if paging.backlog.load(ordering: .relaxed) >= Self.pagerBacklog {
            madvise(UnsafeMutableRawPointer(bitPattern: address), count, MADV_DONTNEED)
            return
        }
        paging.backlog.add(1, ordering: .relaxed)
        let paging = self.paging
        pager.async {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: address), count, MADV_DONTNEED)
            paging.backlog.subtract(1, ordering: .relaxed)
        }
    }

    /// Calls `body` with each record of the data section in file order, with its offset in the
    /// data section. Stops with `.malformed` at a record whose size is impossible.
    public func forEachRecord(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let bytes = dataBytes
        var offset = 0
        var prefetched = 0
        while offset + 8 <= bytes.count {
            // Keep two steps mapped ahead of the reader.
            while prefetched < bytes.count, prefetched < offset + 2 * Self.prefetchStep {
                prefetch(prefetched..<min(prefetched + Self.prefetchStep, bytes.count))
                prefetched += Self.prefetchStep
            }
            let size = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)))
            guard size >= 8, offset + size <= bytes.count else {
                if isCutShort { return }  // the record being written when the recorder died
                throw PerfDataError.malformed(path: path, reason: "record at data offset \(offset) has size \(size)")
            }
            let record = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
            let type = RecordDecoder.type(of: record)
            if type == RecordType.compressed.rawValue || type == RecordType.compressed2.rawValue {
                throw PerfDataError.malformed(path: path, reason: "compressed record at data offset \(offset) in a file whose header does not say it is compressed")
            }
            try body(record, offset)
            offset += size
        }
    }

    private struct Parsed {
        var events: [EventDescription]
        var features: PerfDataFeatures
        var data: Range<Int>
        var isCutShort: Bool
    }

    private static func parse(_ file: UnsafeRawBufferPointer, path: String) throws(PerfDataError) -> Parsed {
        func u64(_ offset: Int) throws(PerfDataError) -> UInt64 {
            guard offset >= 0, offset + 8 <= file.count else { throw .malformed(path: path, reason: "field at \(offset) beyond end of file") }
            return UInt64(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        func u32(_ offset: Int) throws(PerfDataError) -> UInt32 {
            guard offset >= 0, offset + 4 <= file.count else { throw .malformed(path: path, reason: "field at \(offset) beyond end of file") }
            return UInt32(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        }
        func section(_ offset: Int, _ what: String) throws(PerfDataError) -> Range<Int> {
            let start = try u64(offset), size = try u64(offset + 8)
            guard start <= UInt64(file.count), size <= UInt64(file.count) - start else {
                throw .malformed(path: path, reason: "\(what) section [\(start), +\(size)) lies outside the \(file.count)-byte file")
            }
            return Int(start)..<Int(start + size)
        }

        guard try u64(0) == PerfDataFormat.magic else { throw .notPerfData(path: path) }
        let headerSize = try u64(8)
        if headerSize == 16 { throw .pipeMode(path: path) }
        guard headerSize >= UInt64(PerfDataFormat.headerSize) else { throw .malformed(path: path, reason: "header size \(headerSize)") }
        let entrySize = Int(clamping: try u64(16))
        let attributes = try section(24, "attrs")
        var data = try section(40, "data")
        // A finished file always has features (Perch's has at least EVENT_DESC). None at all,
        // or a data size of 0 with records after the header, is a recording that never finished:
        // Perch's header counts the rounds written whole; perf's counts nothing, so read to the end.
        var hasFeatures = false
        for word in 0..<4 where try u64(72 + word * 8) != 0 { hasFeatures = true }
        let unsized = data.isEmpty && data.lowerBound > 0 && data.lowerBound < file.count
        let isCutShort = !hasFeatures || unsized
        if unsized { data = data.lowerBound..<file.count }
        guard entrySize > PerfDataFormat.sectionSize, attributes.count % entrySize == 0 else {
            throw .malformed(path: path, reason: "attr entry size \(entrySize) does not divide the attrs section")
        }
        var events: [EventDescription] = []
        var offset = attributes.lowerBound
        while offset < attributes.upperBound {
            let attributeBytes = UnsafeRawBufferPointer(rebasing: file[offset..<offset + entrySize - PerfDataFormat.sectionSize])
            let attribute = EventAttributes(bytes: attributeBytes)
            let ids = try section(offset + entrySize - PerfDataFormat.sectionSize, "ids")
            var idList: [UInt64] = []
            var idOffset = ids.lowerBound
            while idOffset + 8 <= ids.upperBound { idList.append(try u64(idOffset)); idOffset += 8 }
            events.append(EventDescription(attributes: attribute, ids: idList))
            offset += entrySize
        }
        guard !events.isEmpty else { throw .malformed(path: path, reason: "no event attributes") }

        var features = PerfDataFeatures()
        var names: [String] = []
        var featureIndex = data.upperBound
        for bit in 0..<256 where !unsized {
            let word = try u64(72 + bit / 64 * 8)
            guard word & (1 << UInt64(bit % 64)) != 0 else { continue }
            guard let range = try? section(featureIndex, "feature \(bit)") else { break }
            featureIndex += PerfDataFormat.sectionSize
            let bytes = UnsafeRawBufferPointer(rebasing: file[range])
            switch PerfDataFeature(rawValue: bit) {
            case .hostname: features.hostname = readString(bytes, at: 0)?.value
            case .osRelease: features.osRelease = readString(bytes, at: 0)?.value
            case .version: features.version = readString(bytes, at: 0)?.value
            case .arch: features.arch = readString(bytes, at: 0)?.value
            case .nrCPUs where bytes.count >= 8:
                features.cpusAvailable = bytes.loadUnaligned(as: UInt32.self)
                features.cpusOnline = bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            case .commandLine where bytes.count >= 4:
                var arguments: [String] = []
                var at = 4
                for _ in 0..<min(Int(bytes.loadUnaligned(as: UInt32.self)), 4096) {
                    guard let string = readString(bytes, at: at) else { break }
                    arguments.append(string.value)
                    at = string.next
                }
                features.commandLine = arguments
            case .buildID:
                features.buildIDs = readBuildIDs(bytes)
            case .eventDescription:
                names = readEventNames(bytes)
            case .compressed where bytes.count >= 8:
                features.compressionMethod = bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            case .perchRecordingNotes where bytes.count >= 4:
                var at = 4
                for _ in 0..<min(Int(bytes.loadUnaligned(as: UInt32.self)), 1024) {
                    guard let kind = readString(bytes, at: at), let text = readString(bytes, at: kind.next) else { break }
                    features.recordingNotes.append(RecordedNote(kind: kind.value, text: text.value))
                    at = text.next
                }
            case .tracingData:
                features.tracepointFormats = TracingData.formats(in: bytes)
            default:
                break
            }
        }
        if names.count == events.count {
            for index in events.indices { events[index].name = names[index] }
        }
        if isCutShort {
            let text = unsized
                ? "the recording was cut short (its header counts no data, as a killed recorder leaves it): records are read to the end of the file"
                : "the recording was cut short (the recorder was killed or stopped before finishing the file): records are read up to its last complete round"
            features.recordingNotes.append(RecordedNote(kind: "recordingCutShort", text: text))
        }
        return Parsed(events: events, features: features, data: data, isCutShort: isCutShort)
    }

    private static func readString(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> (value: String, next: Int)? {
        guard offset + 4 <= bytes.count else { return nil }
        let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        guard length <= bytes.count - offset - 4 else { return nil }
        let body = bytes[(offset + 4)..<(offset + 4 + length)]
        let text = body.prefix { $0 != 0 }
        return (String(decoding: text, as: UTF8.self), offset + 4 + length)
    }

    private static func readBuildIDs(_ bytes: UnsafeRawBufferPointer) -> [BuildIDEntry] {
        var entries: [BuildIDEntry] = []
        var offset = 0
        while offset + 36 <= bytes.count {
            let misc = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            let size = Int(bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
            guard size >= 36, offset + size <= bytes.count else { break }
            let hasSize = misc & (1 << 15) != 0
            let idLength = hasSize ? min(Int(bytes[offset + 32]), 20) : 20
            let id = Array(bytes[(offset + 12)..<(offset + 12 + idLength)])
            let name = bytes[(offset + 36)..<(offset + size)].prefix { $0 != 0 }
            entries.append(BuildIDEntry(path: String(decoding: name, as: UTF8.self), buildID: id, isKernel: misc & 7 == 1))
            offset += size
        }
        return entries
    }

    private static func readEventNames(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard bytes.count >= 8 else { return [] }
        let count = Int(bytes.loadUnaligned(as: UInt32.self))
        let attributeSize = Int(bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        var names: [String] = []
        var offset = 8
        for _ in 0..<min(count, 1024) {
            offset += attributeSize
            guard offset + 4 <= bytes.count else { return [] }
            let idCount = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard let name = readString(bytes, at: offset + 4) else { return [] }
            names.append(name.value)
            offset = name.next + idCount * 8
        }
        return names
    }
}
