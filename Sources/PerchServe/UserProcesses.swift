#if canImport(Glibc)
import Glibc
#endif
import SystemIO

/// The processes of one user, from /proc.
enum UserProcesses {
    /// The ids of the processes whose real uid is `uid` (perch serve's own aside), at most 4096.
    static func list(uid: UInt32) -> [Int32] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        let own = getpid()
        var pids: [Int32] = []
        while let entry = readdir(directory), pids.count < 4096 {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid > 0, pid != own else { continue }
            var info = stat()
            // /proc/PID is owned by the process's effective uid; its status names the real one.
            guard stat("/proc/\(pid)", &info) == 0 else { continue }
            if realUID(of: pid) ?? info.st_uid == uid { pids.append(pid) }
        }
        return pids.sorted()
    }

    private static func realUID(of pid: Int32) -> UInt32? {
        guard let bytes = try? readFile(path: "/proc/\(pid)/status", limit: 16384, text: true) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }) else { return nil }
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { UInt32($0) }
    }
}
