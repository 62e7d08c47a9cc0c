import PerfABI
import SystemIO
/// Constants of the perf.data file format (tools/perf/Documentation/perf.data-file-format.txt).
enum PerfDataFormat {
    /// "PERFILE2" read as a little-endian u64.
    static let magic: UInt64 = 0x3245_4c49_4652_4550
    static let headerSize = 104
    /// Where the header's data section size (`data.size`) sits.
    static let dataSizeOffset = 48
    /// `perf_file_section`: offset and size, two u64.
    static let sectionSize = 16
    /// Strings in feature sections are padded to this alignment.
    static let nameAlignment = 64
}

/// Feature bits of the perf.data header that Perch reads or writes.
public enum PerfDataFeature: Int, Sendable, CaseIterable {
    /// The tracepoint formats (perf's `trace-event-read.c` layout, see ``TracingData``).
    case tracingData = 1, buildID = 2, hostname = 3, osRelease = 4, version = 5, arch = 6, nrCPUs = 7
    case cpuDescription = 8, cpuID = 9, totalMemory = 10, commandLine = 11, eventDescription = 12
    /// `perf record -z`: the compression method (1 = zstd), level, ratio and buffer size.
    case compressed = 27
    /// Perch's own: what a recording left out and why, kind and sentence per note. perf reads only
    /// the bits it knows (below its HEADER_LAST_FEATURE) and skips this one.
    case perchRecordingNotes = 192
}

/// A tracepoint's format as a recording stores it (in TRACING_DATA): the event's name and the
/// tracefs text (parsed by `TracepointFormat(parsing:)`).
public struct RecordedTracepointFormat: Sendable, Hashable {
    public var event: String
    public var format: String

    public init(event: String, format: String) {
        self.event = event
        self.format = format
    }
}

/// A fallback a recording took, as stored in the ``PerfDataFeature/perchRecordingNotes`` section.
public struct RecordedNote: Sendable, Hashable {
    /// The note kind's raw value (`kernelFramesDropped`, ...).
    public var kind: String
    public var text: String

    public init(kind: String, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// A DSO and its build id, as in the BUILD_ID feature.
public struct BuildIDEntry: Sendable, Hashable {
    public var path: String
    public var buildID: [UInt8]
    public var isKernel: Bool

    public init(path: String, buildID: [UInt8], isKernel: Bool = false) {
        self.path = path
        self.buildID = buildID
        self.isKernel = isKernel
    }

    public var hex: String { buildID.map { String($0, radix: 16).alignedRight(2, pad: "0") }.joined() }
}

/// The metadata a perf.data reader needs beside the records.
public struct PerfDataFeatures: Sendable {
    public var hostname: String?
    public var osRelease: String?
    public var version: String?
    public var arch: String?
    public var cpusAvailable: UInt32?
    public var cpusOnline: UInt32?
    public var commandLine: [String]?
    public var buildIDs: [BuildIDEntry] = []
    /// What the recording left out and why (Perch's private section).
    public var recordingNotes: [RecordedNote] = []
    /// The compression method of `perf record -z` files (1 = zstd); nil when records are plain.
    public var compressionMethod: UInt32?
    /// The tracefs formats of the tracepoint events, stored in TRACING_DATA as perf stores
    /// them, so perf reads the file and a report on another machine names the fields.
    public var tracepointFormats: [RecordedTracepointFormat] = []
    /// tracefs's `events/header_page` and `events/header_event` texts, written into
    /// TRACING_DATA beside the formats (perf parses the page header from it).
    public var tracingHeaders: (page: String, event: String) = ("", "")

    public init() {}
}

/// Why a perf.data file could not be written or read.
public enum PerfDataError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    /// Something other than a regular file is at the output path (a symbolic link, a directory).
    case notRegularFile(path: String)
    case writeFailed(path: String, errno: Int32)
    case notPerfData(path: String)
    case pipeMode(path: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno): "cannot open \(path): \(Errno(errno).text)"
        case .writeFailed(let path, let errno): "cannot write \(path): \(Errno(errno).text)"
        case .notRegularFile(let path): "\(path) exists and is not a regular file (a symbolic link?); remove it or choose another output"
        case .notPerfData(let path): "\(path) is not a perf.data file (no PERFILE2 header)"
        case .pipeMode(let path): "\(path) is a pipe-mode perf.data stream; record it to a file (perf record -o FILE)"
        case .malformed(let path, let reason): "\(path) is malformed: \(reason)"
        }
    }
}
