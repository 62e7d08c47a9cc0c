#if canImport(Glibc)
import Glibc
#endif

/// The perf.data a profile was recorded into: created empty and private (mode 0600) in the
/// temporary directory, removed when the last profile reading it goes away.
final class TemporaryFile: Sendable {
    let path: String

    init(directory: String) throws(ProfilerError) {
        var template = Array("\(directory)/perch-profile-XXXXXX.data".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 5) }
        guard fd >= 0 else {
            throw .output("cannot create a temporary recording in \(directory): \(String(cString: strerror(errno)))")
        }
        close(fd)
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        unlink(path)
    }
}
