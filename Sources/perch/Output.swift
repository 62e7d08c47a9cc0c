#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to stderr. A failure to write it is not reported: there is nowhere left to say it.
func printError(_ message: String) {
    writeStderr(message.hasSuffix("\n") ? message : message + "\n")
}

/// Writes `text` to stderr as it is (the status line's redraws), ignoring failures as ``printError(_:)`` does.
func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { try? writeAll(2, $0) }
}

/// Writes text to stdout without buffering surprises.
func writeOut(_ text: String) throws(WriteError) {
    var text = text
    let failure = text.withUTF8 { bytes -> WriteError? in
        do throws(WriteError) { try writeAll(1, bytes) } catch { return error }
        return nil
    }
    if let failure { throw failure }
}

/// Writes every byte to `fd`, retrying short writes and EINTR. Any other error is thrown
/// (`WriteError.isBrokenPipe` when stdout's reader has gone).
func writeAll(_ fd: Int32, _ bytes: UnsafeBufferPointer<UInt8>) throws(WriteError) {
    var done = 0
    while done < bytes.count {
        let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            throw WriteError(path: fd == 1 ? nil : "file descriptor \(fd)", errno: errno)
        }
        done += n
    }
}

/// Writes bytes to a file (`-` for standard output), and reports a failed close (the last
/// buffered bytes are written there).
func writeFile(_ path: String, _ bytes: [UInt8]) throws(WriteError) {
    if path == "-" {
        try bytes.withUnsafeBufferPointer { buffer throws(WriteError) in try writeAll(1, buffer) }
        return
    }
    guard let file = fopen(path, "w") else { throw WriteError(path: path, errno: errno) }
    let written = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    let writeErrno = errno
    let closed = fclose(file) == 0
    if written != bytes.count { throw WriteError(path: path, errno: writeErrno) }
    if !closed { throw WriteError(path: path, errno: errno) }
}

func writeFile(_ path: String, _ text: String) throws(WriteError) {
    try writeFile(path, Array(text.utf8))
}
