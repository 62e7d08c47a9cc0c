import ArgumentParser
import Dispatch
import PerfABI
import PerchServe
#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve profiles over Go's pprof HTTP contract, or push them to Grafana Pyroscope.",
        discussion: """
        GET /debug/pprof/profile?seconds=N  CPU time of the target for N seconds (default 30, 1 to 300), gzipped profile.proto
        GET /debug/pprof/offcpu?seconds=N   time blocked (switch-out to switch-in), the same way
        GET /debug/pprof/                   the endpoints, and what this user may record (perch doctor's words)
        GET /healthz                        ok

        Binds 127.0.0.1:6060: only this machine can read the profiles. Any other address must be
        given with --listen, and the start-up line says who can then read them (there is no
        authentication: put an authenticating proxy in front).
        Requests of one kind share one recording; others wait (429 with Retry-After).
        --push URL --every S records S-second profiles one after the other and POSTs each to
        URL/ingest (Pyroscope's ingest API) instead of serving HTTP.
        """
    )

    @Option(name: .customLong("listen"), help: "ADDR:PORT to bind (default 127.0.0.1:6060; [::1]:PORT for IPv6).")
    var listen: String?

    @Option(name: [.short, .customLong("pid")], help: "Record these processes (comma-separated), their threads and children.")
    var pid: String?

    @Flag(name: [.short, .customLong("all-cpus")], help: "Record every task on every CPU.")
    var allCPUs = false

    @Option(name: .customLong("uid"), help: "Record every process of this user (name or uid), as /proc lists them when each recording starts.")
    var uid: String?

    @Option(name: [.customShort("F"), .customLong("freq")], help: "Samples per second (default 99).")
    var frequency: UInt64 = 99

    @Option(name: .customLong("call-graph"), help: "perch record's --call-graph: auto (default; fp with -a), fp, dwarf[,SIZE], none.")
    var callGraph: String?

    @Option(name: .customLong("push"), help: "Push to this Pyroscope server (http://HOST:PORT[/PREFIX]) instead of serving HTTP.")
    var push: String?

    @Option(name: .customLong("every"), help: "With --push: seconds per profile (default 15, 1 to 300).")
    var every: Int?

    @Option(name: .customLong("app"), help: "With --push: the application name (default perch).")
    var application: String?

    @Option(name: .customLong("backlog"), help: "With --push: profiles kept while the server is unreachable (default 16, 1 to 1024).")
    var backlog: Int?

    func validate() throws {
        let targets = [pid != nil, allCPUs, uid != nil].filter { $0 }.count
        if targets == 0 { throw ValidationError("nothing to record: give -p PID[,PID...], -a or --uid USER") }
        if targets > 1 { throw ValidationError("give only one of: -p, -a, --uid") }
        if push == nil && (every != nil || application != nil || backlog != nil) { throw ValidationError("--every, --app and --backlog go with --push") }
        if push != nil && listen != nil { throw ValidationError("--push sends profiles instead of serving them: --listen does not go with it") }
        if let every, !(1...300).contains(every) { throw ValidationError("--every \(every): give 1 to 300 seconds") }
        if let backlog, !(1...1024).contains(backlog) { throw ValidationError("--backlog \(backlog): give 1 to 1024 profiles") }
        if let callGraph, CallGraphMode(argument: callGraph) == nil {
            throw ValidationError("--call-graph '\(callGraph)'")
        }
        if frequency == 0 || frequency > 100_000 { throw ValidationError("-F \(frequency): give 1 to 100000 samples per second") }
        if let application, application.isEmpty || application.contains(where: { "{}=, ".contains($0) }) {
            throw ValidationError("--app '\(application)': a name without braces, '=', ',' or spaces")
        }
    }

    func run() throws {
        var configuration = ServeConfiguration(target: try target())
        if let listen {
            let (host, port) = try Self.address(listen)
            configuration.host = host
            configuration.port = port
        }
        configuration.frequency = frequency
        configuration.callGraph = callGraph
        if let push {
            guard let url = PushURL(push) else { throw ValidationError("--push '\(push)': give http://HOST[:PORT][/PREFIX] (no https: put a proxy in front)") }
            configuration.pushURL = url
            configuration.pushEvery = every ?? 15
            configuration.pushBacklog = backlog ?? PushBacklog.defaultLimit
            if let application { configuration.application = application }
        }
        let box = FailureBox()
        let done = DispatchSemaphore(value: 0)
        let settled = configuration
        Task {
            do {
                try await PerchServer.serve(settled) { line in printError(line) }
            } catch {
                box.set("\(error)")
            }
            done.signal()
        }
        done.wait()
        if let failure = box.get() { throw PerchError.badInput("serve: \(failure)") }
    }

    private func target() throws -> ServeConfiguration.Target {
        if allCPUs { return .allCPUs }
        if let pid {
            var ids: [Int32] = []
            for part in pid.split(separator: ",", omittingEmptySubsequences: false) {
                guard let id = Int32(part), id > 0 else { throw ValidationError("-p '\(pid)': give process ids, comma-separated") }
                guard kill(id, 0) == 0 || errno == EPERM else { throw ValidationError("-p \(id): no such process") }
                ids.append(id)
            }
            return .processes(ids)
        }
        let user = uid ?? ""
        if let number = UInt32(user) {
            let name = getpwuid(number).map { String(cString: $0.pointee.pw_name) } ?? user
            return .user(uid: number, name: name)
        }
        guard let entry = getpwnam(user) else { throw ValidationError("--uid '\(user)': no such user") }
        return .user(uid: entry.pointee.pw_uid, name: user)
    }

    /// `HOST:PORT` or `[IPV6]:PORT`, validated.
    static func address(_ text: String) throws -> (String, Int) {
        let host: Substring, portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ValidationError("--listen '\(text)': give [ADDR]:PORT") }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ValidationError("--listen '\(text)': give ADDR:PORT (e.g. 127.0.0.1:6060, 0.0.0.0:6060, [::1]:6060)")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { throw ValidationError("--listen '\(text)': give the address too (0.0.0.0 for every interface)") }
        guard let port = Int(portText), (0...65535).contains(port) else { throw ValidationError("--listen '\(text)': the port must be 0 to 65535") }
        return (String(host), port)
    }
}

/// The server's failure, handed from its task to the command's thread.
private final class FailureBox: @unchecked Sendable {
    private var text: String?
    private let lock = DispatchSemaphore(value: 1)
    func set(_ value: String) { lock.wait(); text = value; lock.signal() }
    func get() -> String? { lock.wait(); defer { lock.signal() }; return text }
}
