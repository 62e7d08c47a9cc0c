#if canImport(Glibc)
import Glibc
#endif

/// printf-style formatting through the C library, so numbers round, pad and group (`%'`, by the
/// locale's LC_NUMERIC) exactly as perf's own printf calls do.
func cFormat(_ format: String, _ arguments: CVarArg...) -> String {
    withVaList(arguments) { list in
        var buffer = [CChar](repeating: 0, count: 256)
        let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
        guard needed >= buffer.count else {
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return "<format overflow>"
    }
}
