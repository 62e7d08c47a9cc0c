import SystemIO

/// Whether a client closed its end of a connection, as the kernel's TCP table says.
///
/// While a handler waits for a recording, SwiftNIO reads nothing more from the connection
/// (back-pressure), so it does not see the client's FIN; the kernel does: the server's end of
/// the connection is then in CLOSE_WAIT. /proc/net/tcp and tcp6 list every connection with its
/// state.
enum ClientGone {
    /// CLOSE_WAIT, LAST_ACK and CLOSE: the peer has gone, or the connection is being torn down.
    private static let goneStates: Set<Substring> = ["08", "09", "07"]

    /// True when the connection from `remotePort` to `localPort` is closing or closed by the client.
    static func check(localPort: Int, remotePort: Int) -> Bool {
        let local = hexPort(localPort), remote = hexPort(remotePort)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let bytes = try? readFile(path: table, limit: 16 << 20, text: true) else { continue }
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", maxSplits: 4)
                guard fields.count >= 4, fields[1].hasSuffix(":" + local), fields[2].hasSuffix(":" + remote) else { continue }
                return goneStates.contains(fields[3])
            }
        }
        return false
    }

    private static func hexPort(_ port: Int) -> String {
        let hex = String(port, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
