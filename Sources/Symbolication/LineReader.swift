#if canImport(Glibc)
import Glibc
#endif

/// Why a text file could not be read: the errno of `open` or `read`.
struct FileReadErrno: Error {
    var value: Int32
}

/// Calls `body` with each line of the file at `path` (without its newline), read with `read(2)`
/// through one 256 KiB buffer: procfs files report size 0 to `stat`, and /proc/kallsyms is
/// megabytes that need not all be in memory at once. A line longer than the buffer is dropped.
func forEachLine(ofFile path: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws(FileReadErrno) {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadErrno(value: errno) }
    defer { close(fd) }
    let capacity = 256 << 10
    let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: capacity)
    defer { buffer.deallocate() }
    var filled = 0
    while true {
        if filled == capacity {
            filled = 0
        }
        let got = read(fd, buffer.baseAddress! + filled, capacity - filled)
        if got < 0 {
            if errno == EINTR { continue }
            throw FileReadErrno(value: errno)
        }
        if got == 0 {
            if filled > 0 { body(UnsafeBufferPointer(rebasing: buffer[0..<filled])) }
            return
        }
        filled += got
        var lineStart = 0
        for index in 0..<filled where buffer[index] == 0x0A {
            body(UnsafeBufferPointer(rebasing: buffer[lineStart..<index]))
            lineStart = index + 1
        }
        if lineStart > 0 {
            let rest = filled - lineStart
            if rest > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + lineStart, rest) }
            filled = rest
        }
    }
}
