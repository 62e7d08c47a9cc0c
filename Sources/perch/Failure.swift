#if canImport(Glibc)
import Glibc
#endif

/// Exit codes beyond the command's own status.
enum ExitCode32 {
    /// A runtime failure with a one-line explanation.
    static let failure: Int32 = 1
    /// The command to launch does not exist or cannot be executed (as shells report it).
    static let commandNotFound: Int32 = 127
}

/// Prints `perch: error: MESSAGE` on stderr and exits with `code`.
func fail(_ message: String, code: Int32 = ExitCode32.failure) -> Never {
    printError("perch: error: \(message)")
    exit(code)
}

func printError(_ message: String) {
    let line = message.hasSuffix("\n") ? message : message + "\n"
    writeAll(2, line)
}

/// Writes text to stdout without buffering surprises.
func writeOut(_ text: String) {
    writeAll(1, text)
}

func writeFile(_ path: String, _ text: String) throws(FileWriteError) {
    guard let file = fopen(path, "w") else { throw FileWriteError(path: path, errno: errno) }
    defer { fclose(file) }
    let ok = text.withCString { fputs($0, file) } >= 0
    if !ok { throw FileWriteError(path: path, errno: errno) }
}

struct FileWriteError: Error, CustomStringConvertible {
    var path: String
    var errno: Int32
    var description: String { "cannot write \(path): \(String(cString: strerror(errno)))" }
}

/// Writes all of `text` to a file descriptor, retrying short writes.
func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { writeAll(fd, $0) }
}

/// Writes every byte to `fd`, retrying after EINTR; stops quietly at any other error (a closed pipe).
func writeAll(_ fd: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 { if errno == EINTR { continue } else { return } }
        done += n
    }
}
