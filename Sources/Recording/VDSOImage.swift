import PerfRecords
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's vdso: the small shared object every process gets at `[vdso]`, with
/// `clock_gettime` and friends. It has no file, so a report cannot open it the way it opens
/// libc; yet it is the same image in every process on a running kernel. At record time Perch
/// copies it out of its own memory and keeps it on disk by build id (``store()``), and names the
/// build id in the recording's BUILD_ID table under `[vdso]`; the report opens the copy with
/// that id for the vdso's symbols and its `.eh_frame` (so DWARF unwinding continues through it).
///
/// The cache directory is `$XDG_CACHE_HOME/perch/vdso`, else `$HOME/.cache/perch/vdso`; the
/// report side (`VDSOCache` in Symbolication) reads the same place.
public struct VDSOImage: Sendable {
    /// The image's bytes, as mapped.
    public let bytes: [UInt8]
    /// Its GNU build id.
    public let buildID: [UInt8]

    /// The name of the vdso in mappings and in the BUILD_ID table.
    public static let mappingName = "[vdso]"
    /// The vdso is a page or two; anything much larger in `[vdso]` is not a vdso.
    static let maximumSize = 1 << 20

    /// This process's vdso, copied from memory (the range `/proc/self/maps` calls `[vdso]`);
    /// nil when there is none or it has no build id.
    public static func running() -> VDSOImage? {
        var range: (UInt64, UInt64)?
        try? forEachLine(ofFile: "/proc/self/maps") { line in
            guard range == nil, line.count > 7, line.suffix(6).elementsEqual("[vdso]".utf8) else { return }
            let text = String(decoding: line, as: UTF8.self)
            let bounds = text.prefix { $0 != " " }.split(separator: "-")
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16), let end = UInt64(bounds[1], radix: 16),
                  end > start, end - start <= UInt64(maximumSize) else { return }
            range = (start, end)
        }
        guard let (start, end) = range, let base = UnsafeRawPointer(bitPattern: UInt(start)) else { return nil }
        let bytes = Array(UnsafeRawBufferPointer(start: base, count: Int(end - start)))
        guard let buildID = buildID(ofImage: bytes) else { return nil }
        return VDSOImage(bytes: bytes, buildID: buildID)
    }

    public init(bytes: [UInt8], buildID: [UInt8]) {
        self.bytes = bytes
        self.buildID = buildID
    }

    /// Where copies are kept: `$XDG_CACHE_HOME/perch/vdso`, else `$HOME/.cache/perch/vdso`.
    public static var cacheDirectory: String? {
        CacheDirectory.path(for: "vdso")
    }

    /// The build id as lowercase hex: the copy's file name.
    public var buildIDHex: String { buildID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    /// Keeps the image at `directory/<build id>` (creating the directories), unless a copy is
    /// already there. Written to a temporary file and renamed, so a reader never sees half a file.
    /// - Returns: the copy's path.
    @discardableResult
    public func store(in directory: String) throws(Errno) -> String {
        let path = directory + "/" + buildIDHex
        if access(path, R_OK) == 0 { return path }
        try Self.makeDirectories(directory)
        let temporary = directory + "/.\(buildIDHex).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .current }
        let written = bytes.withUnsafeBytes { buffer in Result { () throws(Errno) in try writeAll(fd, buffer) } }
        close(fd)
        if case .failure(let error) = written {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = Errno.current
            unlink(temporary)
            throw error
        }
        return path
    }

    /// `mkdir -p`.
    private static func makeDirectories(_ path: String) throws(Errno) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST { throw .current }
        }
    }

    /// The `NT_GNU_BUILD_ID` note of a 64-bit little-endian ELF image in memory, found through
    /// its `PT_NOTE` program headers; every read bounded by the image.
    static func buildID(ofImage image: [UInt8]) -> [UInt8]? {
        func word(_ offset: Int, _ size: Int) -> UInt64? {
            guard offset >= 0, size <= 8, offset <= image.count - size else { return nil }
            var value: UInt64 = 0
            for index in 0..<size { value |= UInt64(image[offset + index]) << UInt64(8 * index) }
            return value
        }
        // ELF magic, ELFCLASS64, ELFDATA2LSB.
        guard image.count >= 64, image[0] == 0x7f, image[1] == 0x45, image[2] == 0x4c, image[3] == 0x46,
              image[4] == 2, image[5] == 1,
              let tableOffset = word(0x20, 8), let entrySize = word(0x36, 2), let count = word(0x38, 2),
              entrySize >= 56, tableOffset < UInt64(image.count) else { return nil }
        for index in 0..<Int(count) {
            let header = Int(tableOffset) + index * Int(entrySize)
            guard let type = word(header, 4), let offset = word(header + 8, 8), let size = word(header + 32, 8) else { return nil }
            guard type == 4 /* PT_NOTE */, offset < UInt64(image.count), size <= UInt64(image.count) - offset else { continue }
            var note = Int(offset)
            let end = Int(offset + size)
            while note + 12 <= end, let nameSize = word(note, 4), let descSize = word(note + 4, 4), let noteType = word(note + 8, 4) {
                let name = note + 12
                let desc = name + Int((nameSize + 3) & ~3)
                let next = desc + Int((descSize + 3) & ~3)
                guard nameSize <= UInt64(end), descSize <= UInt64(end), next <= end else { break }
                if noteType == 3 /* NT_GNU_BUILD_ID */, nameSize == 4, descSize > 0,
                   image[name..<name + 4].elementsEqual([0x47, 0x4e, 0x55, 0]) {
                    return Array(image[desc..<desc + Int(descSize)])
                }
                note = next
            }
        }
        return nil
    }
}

/// Keeps this kernel's vdso image on disk by build id and names that id under `[vdso]` in the
/// BUILD_ID table, so reports can symbolize and unwind `[vdso]` frames (see ``VDSOImage``).
func keepVDSO(in features: inout PerfDataFeatures, notes: inout RecordingNotes) {
    guard let vdso = VDSOImage.running() else { return }
    features.buildIDs.append(BuildIDEntry(path: VDSOImage.mappingName, buildID: vdso.buildID))
    guard let directory = VDSOImage.cacheDirectory else { return }
    do {
        try vdso.store(in: directory)
    } catch {
        notes.add(.other, "could not keep the vdso image in \(directory): \(error); [vdso] frames will be [unknown]")
    }
}
