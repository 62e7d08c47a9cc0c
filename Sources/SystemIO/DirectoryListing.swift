#if canImport(Glibc)
import Glibc
#endif

/// The entries of /proc-style directories whose names are numbers (process and thread ids).
public enum NumericDirectoryEntries {
    /// The numeric names in `path`, sorted, at most `limit` of them; nil when the directory
    /// cannot be opened (a process that has exited).
    public static func list(_ path: String, limit: Int = 1 << 22) -> [Int32]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var numbers: [Int32] = []
        while numbers.count < limit, let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let number = Int32(name) { numbers.append(number) }
        }
        return numbers.sorted()
    }
}
