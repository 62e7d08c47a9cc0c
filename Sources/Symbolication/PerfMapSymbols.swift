import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// Symbols a JIT wrote to `/tmp/perf-PID.map` (one `START SIZE name` line per function, hex
/// numbers), the convention perf, V8, the JVM's perf-map-agent and CPython 3.12 follow.
public struct PerfMapSymbols: Sendable {
    private var starts: [UInt64] = []
    private var ends: [UInt64] = []
    private var names: [String] = []

    /// The map of process `pid`, or nil when it has none.
    public init?(pid: Int32, directory: String = "/tmp") {
        self.init(path: "\(directory)/perf-\(pid).map")
    }

    public init?(path: String) {
        var entries: [(UInt64, UInt64, String)] = []
        do {
            try forEachLine(ofFile: path) { line in
                let text = String(decoding: line, as: UTF8.self)
                let fields = text.split(separator: " ", maxSplits: 2)
                guard fields.count == 3, let start = Self.hex(fields[0]), let size = Self.hex(fields[1]), size > 0 else { return }
                entries.append((start, start &+ size, String(fields[2])))
            }
        } catch {
            // Unreadable: no map. A read that fails part-way keeps the lines before it.
            if entries.isEmpty { return nil }
        }
        // Later lines win for the same start (a JIT may rewrite code in place).
        entries.sort { $0.0 < $1.0 }
        for entry in entries {
            if let last = starts.last, last == entry.0 {
                ends[ends.count - 1] = entry.1
                names[names.count - 1] = entry.2
            } else {
                starts.append(entry.0)
                ends.append(entry.1)
                names.append(entry.2)
            }
        }
    }

    public var count: Int { starts.count }

    /// The function containing `address`.
    public func lookup(_ address: UInt64) -> String? {
        var low = 0, high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0, address < ends[low - 1] else { return nil }
        return names[low - 1]
    }

    private static func hex(_ text: Substring) -> UInt64? {
        UInt64(text.hasPrefix("0x") ? text.dropFirst(2) : text, radix: 16)
    }
}
