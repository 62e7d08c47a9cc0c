#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import SystemIO

/// Whether a client closed its end of a connection, as the kernel's TCP table says.
///
/// While a handler waits for a recording, SwiftNIO reads nothing more from the connection
/// (back-pressure), so it does not see the client's FIN; the kernel does: the server's end of
/// the connection is then in CLOSE_WAIT. /proc/net/tcp and tcp6 list every connection with its
/// state; they are read at most five times a second however many requests wait.
enum ClientGone {
    /// CLOSE_WAIT, LAST_ACK and CLOSE: the peer has gone, or the connection is being torn down.
    private static let goneStates: Set<Substring> = ["08", "09", "07"]

    /// The (local port, remote port) pairs of closing connections, and when they were read.
    private static let snapshot = NIOLockedValueBox<(pairs: Set<Int>, time: Double)>(([], -1))

    /// True when the connection from `remotePort` to `localPort` is closing or closed by the client.
    static func check(localPort: Int, remotePort: Int) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let time = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        return snapshot.withLockedValue { snapshot in
            if time - snapshot.time > 0.2 { snapshot = (closingPairs(), time) }
            return snapshot.pairs.contains(localPort << 16 | remotePort)
        }
    }

    /// Every closing connection's ports, `local << 16 | remote`.
    private static func closingPairs() -> Set<Int> {
        var pairs = Set<Int>()
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let bytes = try? readFile(path: table, limit: 64 << 20, text: true) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", maxSplits: 4)
                guard fields.count >= 4, goneStates.contains(fields[3]),
                      let local = fields[1].split(separator: ":").last.flatMap({ Int($0, radix: 16) }),
                      let remote = fields[2].split(separator: ":").last.flatMap({ Int($0, radix: 16) }) else { continue }
                pairs.insert(local << 16 | remote)
            }
        }
        return pairs
    }
}
