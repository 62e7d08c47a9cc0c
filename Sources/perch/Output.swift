import SystemIO
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
    text.withUTF8 { try? writeAll(2, UnsafeRawBufferPointer($0)) }
}

/// Writes text to stdout without buffering surprises.
func writeOut(_ text: String) throws(WriteError) {
    var text = text
    let failure = text.withUTF8 { bytes -> WriteError? in
        do throws(WriteError) { try writeOut(UnsafeRawBufferPointer(bytes)) } catch { return error }
        return nil
    }
    if let failure { throw failure }
}

/// Writes text to `descriptor`: standard output (1), or standard error (2) for a report that must
/// stay out of a recorded command's output.
func writeText(_ text: String, to descriptor: Int32) throws(WriteError) {
    guard descriptor != 1 else { return try writeOut(text) }
    var text = text
    let failure = text.withUTF8 { bytes -> WriteError? in
        do throws(Errno) { try writeAll(descriptor, UnsafeRawBufferPointer(bytes)) } catch { return WriteError(path: "standard error", errno: error.code) }
        return nil
    }
    if let failure { throw failure }
}

/// Writes every byte to stdout (``SystemIO/writeAll(_:_:)``); a failure is a `WriteError` about
/// standard output (`WriteError.isBrokenPipe` when its reader has gone).
func writeOut(_ bytes: UnsafeRawBufferPointer) throws(WriteError) {
    do { try writeAll(1, bytes) } catch { throw WriteError(path: nil, errno: error.code) }
}

/// Writes bytes to a file (`-` for standard output), and reports a failed close (the last
/// buffered bytes are written there).
func writeFile(_ path: String, _ bytes: [UInt8]) throws(WriteError) {
    if path == "-" {
        try bytes.withUnsafeBufferPointer { buffer throws(WriteError) in try writeOut(UnsafeRawBufferPointer(buffer)) }
        return
    }
    // Never through a symbolic link planted at the path.
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw WriteError(path: path, errno: errno) }
    guard let file = fdopen(fd, "w") else { let error = errno; close(fd); throw WriteError(path: path, errno: error) }
    let written = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    let writeErrno = errno
    let closed = fclose(file) == 0
    if written != bytes.count { throw WriteError(path: path, errno: writeErrno) }
    if !closed { throw WriteError(path: path, errno: errno) }
}

func writeFile(_ path: String, _ text: String) throws(WriteError) {
    try writeFile(path, Array(text.utf8))
}
