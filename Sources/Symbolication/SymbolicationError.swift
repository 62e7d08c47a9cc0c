import SystemIO
import Glibc

/// Why an image or symbol source could not be used.
public enum SymbolicationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `open(2)` (or `read(2)`) failed; `errno` is the C error number.
    case cannotOpen(path: String, errno: Int32)
    /// The file exists but is not an ELF object (e.g. a script, random bytes, an archive).
    case notELF(path: String)
    /// The file claims to be ELF but its headers could not be read.
    case malformed(path: String, reason: String)

    /// The path this error is about.
    public var path: String {
        switch self {
        case .cannotOpen(let path, _), .notELF(let path), .malformed(let path, _): path
        }
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let code):
            "cannot open \(path): \(Errno(code).text) (errno \(code))"
        case .notELF(let path):
            "\(path) is not an ELF file"
        case .malformed(let path, let reason):
            "\(path) is a malformed ELF file: \(reason)"
        }
    }
}
