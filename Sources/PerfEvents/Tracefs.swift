import PerfABI
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's tracing file system, where tracepoints are listed with their ids and record
/// formats: `/sys/kernel/tracing` (or the older `/sys/kernel/debug/tracing`). Usually mode 0700
/// and root's: other users cannot even learn a tracepoint's id.
public struct Tracefs: Sendable {
    /// The mounted directory.
    public let root: String

    /// The places tracefs is mounted, newest first.
    public static let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The first candidate with an `events` directory (this user may be unable to read it), or nil.
    public static func locate() -> Tracefs? {
        for path in candidates {
            var info = stat()
            if stat(path + "/events", &info) == 0 || errno == EACCES { return Tracefs(root: path) }
        }
        return nil
    }

    public init(root: String) {
        self.root = root
    }

    /// Why a tracepoint could not be looked up.
    public enum LookupError: Error, Sendable, Equatable, CustomStringConvertible {
        /// No tracefs is mounted.
        case notMounted
        /// This user may not read tracefs (the directory and its mode).
        case notReadable(path: String, mode: UInt32, owner: UInt32)
        /// No tracepoint of that name.
        case noSuchTracepoint(String)
        /// The format file could not be read or parsed.
        case badFormat(String, reason: String)

        public var description: String {
            switch self {
            case .notMounted:
                "tracefs is not mounted (neither \(Tracefs.candidates.joined(separator: " nor ")) exists)"
            case .notReadable(let path, let mode, let owner):
                "\(path) is readable only by uid \(owner) (mode \(String(mode & 0o7777, radix: 8))), so tracepoint ids are hidden from this user"
            case .noSuchTracepoint(let name):
                "no tracepoint '\(name)' on this kernel (perch list shows those there are)"
            case .badFormat(let name, let reason):
                "cannot read the format of tracepoint '\(name)': \(reason)"
            }
        }
    }

    /// Whether this user may read the tracepoint list.
    public var isReadable: Bool { access(root + "/events", R_OK | X_OK) == 0 }

    private var unreadable: LookupError {
        var info = stat()
        stat(root, &info)
        return .notReadable(path: root, mode: info.st_mode, owner: info.st_uid)
    }

    /// The record format (with the id) of `subsystem:name`.
    public func format(subsystem: String, name: String) throws(LookupError) -> TracepointFormat {
        try formatAndText(subsystem: subsystem, name: name).format
    }

    /// The record format of `subsystem:name` and the text it was parsed from.
    public func formatAndText(subsystem: String, name: String) throws(LookupError) -> (format: TracepointFormat, text: String) {
        let full = "\(subsystem):\(name)"
        guard isReadable else { throw unreadable }
        // The names were checked to be [A-Za-z0-9_] by the event parser; check again here, as
        // this builds a path.
        guard Self.isName(subsystem), Self.isName(name) else { throw .noSuchTracepoint(full) }
        let path = "\(root)/events/\(subsystem)/\(name)/format"
        let bytes: [UInt8]
        do {
            bytes = try readFile(path: path, limit: TracepointFormat.maximumTextSize, text: true)
        } catch {
            if error.errno?.code == ENOENT || error.errno?.code == ENOTDIR { throw .noSuchTracepoint(full) }
            if error.errno?.code == EACCES { throw unreadable }
            throw .badFormat(full, reason: "\(error)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            return (try TracepointFormat(parsing: text), text)
        } catch {
            throw .badFormat(full, reason: "\(error)")
        }
    }

    /// `events/header_page` and `events/header_event`, which perf stores beside the formats
    /// (empty where unreadable).
    public func headers() -> (page: String, event: String) {
        func text(_ name: String) -> String {
            (try? readFile(path: "\(root)/events/\(name)", limit: 64 * 1024, text: true)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return (text("header_page"), text("header_event"))
    }

    /// Every tracepoint, `subsystem:name`, sorted as perf list sorts them; nil when unreadable.
    public func tracepoints() -> [String]? {
        guard isReadable else { return nil }
        var names: [String] = []
        for subsystem in Self.directories(in: root + "/events") {
            for event in Self.directories(in: "\(root)/events/\(subsystem)") { names.append("\(subsystem):\(event)") }
        }
        return names.sorted()
    }

    private static func directories(in path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard entry.pointee.d_type == UInt8(DT_DIR), !name.hasPrefix("."), isName(name) else { continue }
            names.append(name)
            if names.count >= 100_000 { break }
        }
        return names
    }

    private static func isName(_ word: String) -> Bool {
        !word.isEmpty && word.count <= 256 && word.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_"
        }
    }
}


extension Tracefs {
    /// The `format` text of a tracepoint named as perf names it (`sched:sched_switch`) on this
    /// machine, for recordings that do not carry their formats; nil when tracefs lacks it.
    public static func formatText(ofEvent event: String) -> String? {
        let parts = event.split(separator: ":")
        guard parts.count == 2, let tracefs = Tracefs.locate(),
              let found = try? tracefs.formatAndText(subsystem: String(parts[0]), name: String(parts[1])) else { return nil }
        return found.text
    }
}
