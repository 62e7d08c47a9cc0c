#if canImport(Glibc)
import Glibc
#endif

/// Writes every byte of `bytes` to `fd`: a short write is continued where it stopped and `EINTR`
/// is retried. Any other failure (`EPIPE`, `ENOSPC`, ...) is thrown; how much went out before it is not said.
public func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
    guard let base = bytes.baseAddress else { return }
    var done = 0
    while done < bytes.count {
        done += try retryingInterrupted { write(fd, base + done, bytes.count - done) }
    }
}
