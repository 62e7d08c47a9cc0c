import PerfEvents
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// Reads processes and threads from /proc.
enum TaskDiscovery {
    /// The thread ids of a process, from /proc/PID/task; nil when the process does not exist.
    static func threads(of pid: Int32) -> [Int32]? {
        NumericDirectoryEntries.list("/proc/\(pid)/task")
    }

    /// Every process in /proc.
    static func allProcesses() -> [Int32] {
        NumericDirectoryEntries.list("/proc") ?? []
    }

    /// The process a thread belongs to (its Tgid).
    static func processID(ofThread tid: Int32) -> Int32? {
        guard let status = readProcFile("/proc/\(tid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingCharacters(in: " \t"))
        }
        return nil
    }

    static func comm(pid: Int32, tid: Int32) -> String? {
        readProcFile("/proc/\(pid)/task/\(tid)/comm").map { $0.hasSuffix("\n") ? String($0.dropLast()) : $0 }
    }
}

/// The text of a /proc file (at most 64 MiB, far more than any of them holds), nil when it cannot be read.
func readProcFile(_ path: String) -> String? {
    (try? readFile(path: path, limit: 64 << 20)).map { String(decoding: $0, as: UTF8.self) }
}
