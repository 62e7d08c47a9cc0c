import SystemIO
#if canImport(Glibc)
import PerfABI
import Glibc
#endif

/// Why a perf event operation failed: the errno and the attribute that was being opened.
public struct PerfEventError: Error, CustomStringConvertible, Sendable {
    public enum Operation: String, Sendable {
        case open = "perf_event_open", mmap, ioctl, read
    }

    public let operation: Operation
    public let errno: Int32
    public let attributes: EventAttributes?
    public let pid: Int32
    public let cpu: Int32

    public init(_ operation: Operation, errno: Int32, attributes: EventAttributes? = nil, pid: Int32 = -1, cpu: Int32 = -1) {
        self.operation = operation
        self.errno = errno
        self.attributes = attributes
        self.pid = pid
        self.cpu = cpu
    }

    /// The C library's text for `errno`.
    public var reason: String { Errno(errno).text }

    public var description: String {
        var text = "\(operation.rawValue) failed: \(reason) (errno \(errno))"
        if let attributes { text += " for event '\(attributes)'" }
        if operation == .open { text += " pid=\(pid) cpu=\(cpu)" }
        return text
    }
}
