import PerfABI
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// Writes a perf.data file: header, attributes with their ids, the records as the kernel wrote
/// them, then the feature sections. Records are buffered and written with large `write(2)` calls.
public final class PerfDataWriter {
    public let path: String
    private let fd: Int32
    private let events: [EventDescription]
    private let dataOffset: Int
    private let attributeSection: (offset: Int, size: Int)
    private var dataSize = 0
    /// Data bytes on disk and counted in the header's data size: every round up to the last
    /// FINISHED_ROUND that was written whole.
    private var committedSize = 0
    private var buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0

    public init(path: String, events: [EventDescription]) throws(PerfDataError) {
        try Self.keepExisting(path)
        // 0600 as perf's, and never through a link planted at the path: O_EXCL does not follow
        // one, and refuses a file that appeared since the old one was moved aside.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        self.path = path
        self.fd = fd
        self.events = events
        buffer = .allocate(byteCount: 1 << 20, alignment: 8)

        // [header][ids of each event][attr entries][data...][feature index][features]
        var prefix = [UInt8](repeating: 0, count: PerfDataFormat.headerSize)
        var idSections: [(Int, Int)] = []
        for event in events {
            idSections.append((prefix.count, event.ids.count * 8))
            for id in event.ids { prefix.append(littleEndian: id) }
        }
        let attributesOffset = prefix.count
        for (event, ids) in zip(events, idSections) {
            prefix.append(contentsOf: event.attributes.encoded())
            prefix.append(littleEndian: UInt64(ids.0))
            prefix.append(littleEndian: UInt64(ids.1))
        }
        attributeSection = (attributesOffset, prefix.count - attributesOffset)
        while prefix.count % 8 != 0 { prefix.append(0) }
        dataOffset = prefix.count
        // The header goes first, complete but for the data size (kept current at each round)
        // and the features (written by `finish`): a recording killed on the way is a file
        // perf and Perch read up to its last round.
        let header = headerBytes(dataSize: 0, features: [])
        prefix.replaceSubrange(0..<header.count, with: header)
        do {
            try writeAll(prefix)
        } catch {
            buffer.deallocate()
            close(fd)
            unlink(path)
            throw error
        }
    }

    /// Moves an existing regular file at `path` aside to `path.old`, as `perf record` does.
    /// Refuses anything else found there (a symbolic link, a directory, a device).
    private static func keepExisting(_ path: String) throws(PerfDataError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path: path) }
        guard info.st_size > 0 else { unlink(path); return }
        guard rename(path, path + ".old") == 0 else { throw .cannotOpen(path: path + ".old", errno: errno) }
    }

    deinit {
        buffer.deallocate()
        close(fd)
    }

    /// Bytes of records written so far (up to the last whole round once a write has failed).
    public var bytesWritten: Int { failure == nil ? dataSize : committedSize }

    /// The first write that failed (a full disk): records from then on are dropped, and the
    /// file keeps the rounds written before it.
    public private(set) var failure: PerfDataError?

    /// Appends records (headers included) to the data section. Small ones are gathered in the
    /// buffer; a run of ``directWriteBytes`` or more (the recorder's queue chunks) is written
    /// from where it lies, after what was buffered: copying it first would cost the recorder a
    /// second pass over every byte it writes.
    public func append(_ records: UnsafeRawBufferPointer) {
        if records.count >= Self.directWriteBytes {
            flush()
            writeOrRemember(records)
        } else {
            if buffered + records.count > buffer.count { flush() }
            (buffer.baseAddress! + buffered).copyMemory(from: records.baseAddress!, byteCount: records.count)
            buffered += records.count
        }
        dataSize += records.count
    }

    /// Runs at least this long skip the buffer.
    static let directWriteBytes = 64 << 10

    /// Appends a `PERF_RECORD_FINISHED_ROUND`: records before it may be sorted by time and flushed.
    public func appendFinishedRound() {
        var header: (UInt32, UInt16, UInt16) = (RecordType.finishedRound.rawValue, 0, 8)
        withUnsafeBytes(of: &header) { append($0) }
        commitRound()
    }

    /// Writes the buffered records and then the header's data size, so the file on disk ends
    /// at a round whatever happens to this process next.
    private func commitRound() {
        flush()
        guard failure == nil else { return }
        var size = UInt64(dataSize).littleEndian
        let written = withUnsafeBytes(of: &size) { pwrite(fd, $0.baseAddress, 8, PerfDataFormat.dataSizeOffset) }
        guard written == 8 else { failure = .writeFailed(path: path, errno: errno); return }
        committedSize = dataSize
    }

    /// Writes the features and the final header. The writer must not be used afterwards.
    /// After a failed write (``failure``) the data is cut back to the last whole round and the
    /// features are written after it if they fit; if they do not, this throws, and the file is
    /// still read up to that round (without its features).
    public func finish(features: PerfDataFeatures) throws(PerfDataError) {
        flush()
        if let failure {
            // Cut the torn round off (freeing its blocks) and try the features where it began.
            guard ftruncate(fd, off_t(dataOffset + committedSize)) == 0,
                  lseek(fd, off_t(dataOffset + committedSize), SEEK_SET) >= 0 else { throw failure }
            dataSize = committedSize
            self.failure = nil
        }
        var sections: [(PerfDataFeature, [UInt8])] = []
        if !features.buildIDs.isEmpty { sections.append((.buildID, encodeBuildIDs(features.buildIDs))) }
        if let hostname = features.hostname { sections.append((.hostname, encodeString(hostname))) }
        if let release = features.osRelease { sections.append((.osRelease, encodeString(release))) }
        if let version = features.version { sections.append((.version, encodeString(version))) }
        if let arch = features.arch { sections.append((.arch, encodeString(arch))) }
        if let available = features.cpusAvailable, let online = features.cpusOnline {
            var bytes: [UInt8] = []
            bytes.append(littleEndian: available)
            bytes.append(littleEndian: online)
            sections.append((.nrCPUs, bytes))
        }
        if let commandLine = features.commandLine {
            var bytes: [UInt8] = []
            bytes.append(littleEndian: UInt32(commandLine.count))
            for argument in commandLine { bytes.append(contentsOf: encodeString(argument)) }
            sections.append((.commandLine, bytes))
        }
        sections.append((.eventDescription, encodeEventDescriptions()))
        if !features.recordingNotes.isEmpty {
            var bytes: [UInt8] = []
            bytes.append(littleEndian: UInt32(features.recordingNotes.count))
            for note in features.recordingNotes {
                bytes.append(contentsOf: encodeString(note.kind))
                bytes.append(contentsOf: encodeString(note.text))
            }
            sections.append((.perchRecordingNotes, bytes))
        }
        if !features.tracepointFormats.isEmpty {
            sections.append((.tracingData, TracingData.encode(formats: features.tracepointFormats, headers: features.tracingHeaders)))
        }
        sections.sort { $0.0.rawValue < $1.0.rawValue }

        let indexOffset = dataOffset + dataSize
        var payloadOffset = indexOffset + sections.count * PerfDataFormat.sectionSize
        var index: [UInt8] = []
        var payload: [UInt8] = []
        for (_, bytes) in sections {
            index.append(littleEndian: UInt64(payloadOffset))
            index.append(littleEndian: UInt64(bytes.count))
            payload.append(contentsOf: bytes)
            payloadOffset += bytes.count
        }
        try writeAll(index + payload)

        let header = headerBytes(dataSize: dataSize, features: sections.map(\.0))
        let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == header.count else { throw .writeFailed(path: path, errno: errno) }
    }

    /// The file header: attrs and data sections, and the bitmap of the features present.
    private func headerBytes(dataSize: Int, features: [PerfDataFeature]) -> [UInt8] {
        var header: [UInt8] = []
        header.append(littleEndian: PerfDataFormat.magic)
        header.append(littleEndian: UInt64(PerfDataFormat.headerSize))
        header.append(littleEndian: UInt64(EventAttributes.encodedSize + PerfDataFormat.sectionSize))
        header.append(littleEndian: UInt64(attributeSection.offset))
        header.append(littleEndian: UInt64(attributeSection.size))
        header.append(littleEndian: UInt64(dataOffset))
        header.append(littleEndian: UInt64(dataSize))
        header.append(littleEndian: UInt64(0))  // event_types (unused)
        header.append(littleEndian: UInt64(0))
        var bitmap = [UInt64](repeating: 0, count: 4)
        for feature in features { bitmap[feature.rawValue / 64] |= 1 << UInt64(feature.rawValue % 64) }
        for word in bitmap { header.append(littleEndian: word) }
        return header
    }

    private func flush() {
        guard buffered > 0 else { return }
        writeOrRemember(UnsafeRawBufferPointer(rebasing: buffer[0..<buffered]))
        buffered = 0
    }

    private func writeOrRemember(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        do {
            try SystemIO.writeAll(fd, bytes)
        } catch {
            failure = .writeFailed(path: path, errno: error.code)
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws(PerfDataError) {
        bytes.withUnsafeBytes { writeOrRemember($0) }
        if let failure { throw failure }
    }

    /// `perf_header_string`: u32 length (NUL included, padded to 64) then the padded bytes.
    private func encodeString(_ string: String) -> [UInt8] {
        let utf8 = Array(string.utf8)
        let length = (utf8.count + 1 + PerfDataFormat.nameAlignment - 1) / PerfDataFormat.nameAlignment * PerfDataFormat.nameAlignment
        var bytes: [UInt8] = []
        bytes.append(littleEndian: UInt32(length))
        bytes.append(contentsOf: utf8)
        bytes.append(contentsOf: [UInt8](repeating: 0, count: length - utf8.count))
        return bytes
    }

    /// `perf_record_header_build_id` entries: header, pid, 20-byte id + size byte, padded name.
    private func encodeBuildIDs(_ entries: [BuildIDEntry]) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries {
            let name = Array(entry.path.utf8)
            let nameLength = (name.count + 1 + PerfDataFormat.nameAlignment - 1) / PerfDataFormat.nameAlignment * PerfDataFormat.nameAlignment
            let misc: UInt16 = (entry.isKernel ? 1 : 2) | (1 << 15)  // cpumode | PERF_RECORD_MISC_BUILD_ID_SIZE
            bytes.append(littleEndian: RecordType.headerBuildID.rawValue)
            bytes.append(littleEndian: misc)
            bytes.append(littleEndian: UInt16(8 + 4 + 24 + nameLength))
            bytes.append(littleEndian: Int32(-1))
            let id = Array(entry.buildID.prefix(20))
            bytes.append(contentsOf: id + [UInt8](repeating: 0, count: 20 - id.count))
            bytes.append(UInt8(id.count))
            bytes.append(contentsOf: [0, 0, 0])
            bytes.append(contentsOf: name + [UInt8](repeating: 0, count: nameLength - name.count))
        }
        return bytes
    }

    /// EVENT_DESC: count, attr size, then per event its attr, id count, name and ids.
    private func encodeEventDescriptions() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append(littleEndian: UInt32(events.count))
        bytes.append(littleEndian: UInt32(EventAttributes.encodedSize))
        for event in events {
            bytes.append(contentsOf: event.attributes.encoded())
            bytes.append(littleEndian: UInt32(event.ids.count))
            bytes.append(contentsOf: encodeString(event.name))
            for id in event.ids { bytes.append(littleEndian: id) }
        }
        return bytes
    }
}
