#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import NIOConcurrencyHelpers

/// `perch serve`: the pprof HTTP endpoints, or the Pyroscope push loop.
public enum PerchServer {
    /// Connections served at once; more wait in the listen backlog. With the idle timeout this
    /// bounds the descriptors slow or stalling clients can hold.
    public static let maximumConnections = 512
    /// Seconds a connection may send nothing (a stalled or half-sent request) before it is closed.
    public static let idleSeconds: Int64 = 10

    /// Serves until the process is stopped. `say` prints the start-up line.
    public static func serve(_ configuration: ServeConfiguration, say: @escaping @Sendable (String) -> Void) async throws {
        raiseDescriptorLimit()
        if let url = configuration.pushURL {
            say(PushLoop.startLine(configuration, url: url))
            let loop = Task { try await PushLoop(configuration: configuration, url: url).run(say: say) }
            // SIGINT and SIGTERM end push mode cleanly: the period under way is stopped, its
            // recording's child and temporary files with it.
            let stops = onStopSignals { loop.cancel() }
            defer { stops.forEach { $0.cancel() } }
            try await loop.value
            return
        }
        let recordings = SharedRecordings(configuration: configuration)
        let responder = ProfileResponder(configuration: configuration, recordings: recordings)
        let listening = try await HTTPServer.listen(host: configuration.host, port: configuration.port,
                                                    maximumConnections: maximumConnections, idleSeconds: idleSeconds,
                                                    responder: responder)
        // SIGINT or SIGTERM stops the server gracefully: no new connection is taken, the profiles
        // under way are finished and answered, then perch exits. A second one stops those
        // recordings too (their children and temporary files with them; their clients get 503).
        let signals = NIOLockedValueBox(0)
        let stops = onStopSignals {
            if signals.withLockedValue({ $0 += 1; return $0 }) == 1 {
                listening.close()
            } else {
                Task { await recordings.stopAll() }
            }
        }
        defer { stops.forEach { $0.cancel() } }
        say(startLine(configuration, port: listening.port))
        try await listening.closed()
        await listening.drained()
    }

    /// Catches SIGINT and SIGTERM on a dispatch queue: each calls `action`.
    private static func onStopSignals(_ action: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }

    /// What the server now exposes, and to whom.
    static func startLine(_ configuration: ServeConfiguration, port: Int) -> String {
        let loopback = configuration.host == "127.0.0.1" || configuration.host == "::1" || configuration.host == "localhost"
        let address = configuration.host.contains(":") ? "[\(configuration.host)]:\(port)" : "\(configuration.host):\(port)"
        let who = loopback
            ? "only programs on this machine can read them"
            : configuration.host == "0.0.0.0" || configuration.host == "::"
                ? "ANYONE who can reach this machine on port \(port), on every network interface, can now read them (no authentication)"
                : "ANYONE who can reach \(configuration.host) on port \(port) can now read them (no authentication)"
        return "perch serve: http://\(address)/debug/pprof/ serves profiles of \(configuration.targetDescription); \(who)"
    }

    /// Lets many connections and recordings share the process's descriptors.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = min(limit.rlim_max, 65536)
        setrlimit(resource, &limit)
    }
}
