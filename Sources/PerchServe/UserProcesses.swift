#if canImport(Glibc)
import Glibc
#endif
import SystemIO

/// The processes of one user, from /proc.
enum UserProcesses {
    /// The ids of the processes whose real uid is `uid` (perch serve's own aside), at most 4096.
    static func list(uid: UInt32) -> [Int32] {
        let own = getpid()
        var pids: [Int32] = []
        for pid in NumericDirectoryEntries.list("/proc") ?? [] where pid > 0 && pid != own && pids.count < 4096 {
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
