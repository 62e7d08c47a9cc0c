import CZstd
import PerfABI
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The data section of a `perf record -z` file, expanded into ordinary records.
///
/// perf compresses each chunk it drains from a ring into a `PERF_RECORD_COMPRESSED` record (or
/// `PERF_RECORD_COMPRESSED2`, whose header also carries the payload's size) holding zstd frames of
/// the chunk's records. A chunk may end inside a record (a ring's wrap-around is drained in two
/// pieces), so the payloads are one stream: decompressed back to back they are the records the
/// kernel wrote. Records outside the compressed ones (perf's own, such as FINISHED_ROUND) keep
/// their place between them.
///
/// The expansion is written to an unlinked temporary file and mapped, so the rest of the reader
/// sees a plain data section: offsets, time ordering and page release work unchanged, and memory
/// stays flat however large the recording.
enum CompressedRecords {
    /// The COMPRESSED feature's method number for zstd (perf's `PERF_COMP_ZSTD`).
    static let zstdMethod: UInt32 = 1

    /// A recording expands to at most this many times its compressed size plus
    /// ``expansionAllowance`` bytes: perf's ratios are 5–20, so only a crafted file meets the
    /// limit, and it is refused instead of filling the disk.
    static let maximumRatio = 1_000
    static let expansionAllowance = 64 << 20

    /// Expands `data` (a data section holding compressed records) into a temporary file and maps
    /// it read-only. The caller unmaps the returned range.
    static func expand(_ data: UnsafeRawBufferPointer, path: String, isCutShort: Bool) throws(PerfDataError) -> UnsafeRawBufferPointer {
        let directory = ProcessInfoDirectory.temporary
        var template = Array("\(directory)/perch-expanded-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw .malformed(path: path, reason: "cannot expand its compressed records: cannot create a temporary file in \(directory): \(Errno.current.text)")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        defer { close(fd) }

        let (sizeLimit, overflow) = data.count.multipliedReportingOverflow(by: maximumRatio)
        var expander = Expander(fd: fd, path: path, limit: overflow ? Int.max : sizeLimit + expansionAllowance)
        defer { expander.finish() }
        var offset = 0
        while offset + 8 <= data.count {
            let type = UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let size = Int(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)))
            guard size >= 8, offset + size <= data.count else {
                if isCutShort { break }
                throw .malformed(path: path, reason: "record at data offset \(offset) has size \(size)")
            }
            let record = UnsafeRawBufferPointer(rebasing: data[offset..<offset + size])
            switch type {
            case RecordType.compressed.rawValue:
                try expander.decompress(UnsafeRawBufferPointer(rebasing: record[8...]), at: offset)
            case RecordType.compressed2.rawValue:
                guard size >= 16 else { throw .malformed(path: path, reason: "compressed record at data offset \(offset) has size \(size)") }
                let payload = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                guard payload <= UInt64(size - 16) else {
                    throw .malformed(path: path, reason: "compressed record at data offset \(offset) claims \(payload) bytes in \(size - 16)")
                }
                try expander.decompress(UnsafeRawBufferPointer(rebasing: record[16..<16 + Int(payload)]), at: offset)
            default:
                try expander.append(record)
            }
            offset += size
        }
        try expander.flush()

        let length = expander.written
        guard length > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw .malformed(path: path, reason: "cannot map its \(length) expanded bytes: \(Errno.current.text)")
        }
        madvise(mapped, length, MADV_SEQUENTIAL)
        return UnsafeRawBufferPointer(start: mapped, count: length)
    }

    /// One zstd stream across every compressed record, writing what it yields through a buffer.
    private struct Expander {
        let fd: Int32
        let path: String
        let limit: Int
        private(set) var written = 0
        private var buffer: UnsafeMutableRawBufferPointer
        private var buffered = 0
        private let stream: OpaquePointer

        init(fd: Int32, path: String, limit: Int) {
            self.fd = fd
            self.path = path
            self.limit = limit
            self.buffer = .allocate(byteCount: max(ZSTD_DStreamOutSize(), 1 << 20), alignment: 16)
            self.stream = ZSTD_createDStream()
            ZSTD_initDStream(stream)
        }

        func finish() {
            ZSTD_freeDStream(stream)
            buffer.deallocate()
        }

        mutating func append(_ bytes: UnsafeRawBufferPointer) throws(PerfDataError) {
            if buffered + bytes.count > buffer.count { try flush() }
            if bytes.count > buffer.count { try write(bytes); return }
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<buffered + bytes.count]).copyMemory(from: bytes)
            buffered += bytes.count
        }

        mutating func decompress(_ payload: UnsafeRawBufferPointer, at offset: Int) throws(PerfDataError) {
            guard let source = payload.baseAddress, !payload.isEmpty else { return }
            var input = ZSTD_inBuffer(src: source, size: payload.count, pos: 0)
            // Until the input is used up and zstd holds nothing back: a call that fills the
            // buffer may keep output of this record, which must be out before the plain records
            // (FINISHED_ROUND) perf writes between compressed ones.
            while true {
                if buffered == buffer.count { try flush() }
                var output = ZSTD_outBuffer(dst: buffer.baseAddress! + buffered, size: buffer.count - buffered, pos: 0)
                let result = ZSTD_decompressStream(stream, &output, &input)
                if ZSTD_isError(result) != 0 {
                    let reason = String(cString: ZSTD_getErrorName(result))
                    throw .malformed(path: path, reason: "compressed record at data offset \(offset) does not decompress (zstd: \(reason))")
                }
                buffered += output.pos
                let filled = output.pos == output.size
                if input.pos >= input.size, !filled { break }
                if output.pos == 0, !filled {
                    throw .malformed(path: path, reason: "compressed record at data offset \(offset) makes no progress")
                }
            }
        }

        mutating func flush() throws(PerfDataError) {
            guard buffered > 0 else { return }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<buffered]))
            buffered = 0
        }

        private mutating func write(_ bytes: UnsafeRawBufferPointer) throws(PerfDataError) {
            guard written <= limit - bytes.count else {
                throw .malformed(path: path, reason: "its compressed records expand past \(limit) bytes, more than \(CompressedRecords.maximumRatio) times their size")
            }
            do {
                try writeAll(fd, bytes)
            } catch {
                throw .malformed(path: path, reason: "cannot expand its compressed records into a temporary file: \(error.text)")
            }
            written += bytes.count
        }
    }
}

/// Where temporary files go: `$TMPDIR`, else /tmp.
enum ProcessInfoDirectory {
    static var temporary: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }
}
