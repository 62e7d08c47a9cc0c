#if canImport(Glibc)
import Glibc
#endif

/// What `perch serve` records, and where it listens or pushes.
public struct ServeConfiguration: Sendable {
    /// Whose code the recordings cover.
    public enum Target: Sendable, Equatable {
        /// These processes (all their threads, and the threads and children they start).
        case processes([Int32])
        /// Every task on every CPU.
        case allCPUs
        /// Every process of this user, as /proc lists them when each recording starts.
        case user(uid: UInt32, name: String)
    }

    /// The address to bind (default loopback only).
    public var host = "127.0.0.1"
    public var port = 6060
    public var target: Target
    /// Samples per second (Go's runtime profiler samples at 100 Hz; 99 avoids lockstep with timers).
    public var frequency: UInt64 = 99
    /// perch record's `--call-graph` word, or nil for its default.
    public var callGraph: String?
    /// Pyroscope push: the server's base URL (`http://host:port[/prefix]`), nil to serve HTTP instead.
    public var pushURL: PushURL?
    /// Seconds per pushed profile.
    public var pushEvery = 15
    /// Profiles kept while the backend is unreachable; beyond it the oldest is dropped.
    public var pushBacklog = PushBacklog.defaultLimit
    /// The application name pushed to Pyroscope (`name=APP{labels}`).
    public var application = "perch"
    /// The `perch` executable that records (a child `perch record` per recording).
    public var executable = "/proc/self/exe"

    /// The bounds of `?seconds=N`: Go's default is 30.
    public static let secondsRange = 1...300
    public static let defaultSeconds = 30

    public init(target: Target) { self.target = target }

    /// perch record's target options for this target, or why there is nothing to record.
    func recordArguments() throws(ServeError) -> [String] {
        switch target {
        case .processes(let pids):
            // Those still running; a target that has gone is a missing resource, not a server error.
            let alive = pids.filter { kill($0, 0) == 0 || errno == EPERM }
            guard !alive.isEmpty else {
                throw ServeError(.notFound, "\(targetDescription) no longer running: nothing to record")
            }
            return ["-p", alive.map(String.init).joined(separator: ",")]
        case .allCPUs:
            return ["-a"]
        case .user(let uid, let name):
            let pids = UserProcesses.list(uid: uid)
            guard !pids.isEmpty else { throw ServeError(.notFound, "no process of user \(name) (uid \(uid)) is running") }
            return ["-p", pids.map(String.init).joined(separator: ",")]
        }
    }

    /// The target in words, for the index and the start-up line.
    public var targetDescription: String {
        switch target {
        case .processes(let pids): return "process\(pids.count == 1 ? "" : "es") \(pids.map(String.init).joined(separator: ","))"
        case .allCPUs: return "every CPU (-a)"
        case .user(let uid, let name): return "the processes of user \(name) (uid \(uid))"
        }
    }
}

/// An `http://host[:port][/prefix]` URL (no TLS: put a proxy in front for https).
public struct PushURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var prefix: String

    /// Parses `text`, or nil when it is not a plain http URL with a host.
    public init?(_ text: String) {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        guard !authority.isEmpty, !authority.contains("@"), !path.contains("?"), !path.contains("#") else { return nil }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = 80
        }
        guard !host.isEmpty else { return nil }
        prefix = path
    }
}
