#if canImport(Glibc)
import Glibc
#endif

/// A C error number from a failed system call, with the C library's text for it.
public struct Errno: Error, Sendable, Hashable, CustomStringConvertible {
    /// The error number (`ENOENT`, `EPIPE`, ...).
    public var code: Int32

    public init(_ code: Int32) {
        self.code = code
    }

    /// The calling thread's `errno` now: read it right after the call that failed.
    public static var current: Errno { Errno(Glibc.errno) }

    /// `strerror`'s text, e.g. "No such file or directory".
    public var text: String { String(cString: strerror(code)) }

    public var description: String { text }
}

/// Calls `call` (a system call returning -1 and setting `errno` on failure) again for as long as it
/// fails with `EINTR`, and returns its first non-negative result. Any other failure is thrown.
/// The one EINTR retry that every read and write loop uses.
@discardableResult
public func retryingInterrupted<Result: FixedWidthInteger & SignedInteger>(_ call: () -> Result) throws(Errno) -> Result {
    while true {
        let result = call()
        if result >= 0 { return result }
        let error = Errno.current
        if error.code != EINTR { throw error }
    }
}
