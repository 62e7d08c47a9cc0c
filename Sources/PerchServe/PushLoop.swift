#if canImport(Glibc)
import Glibc
#endif

/// `perch serve --push URL --every S`: records S seconds after S seconds, and sends each
/// period's profile to Grafana Pyroscope's ingest API (`POST /ingest`, its HTTP API as documented
/// for Pyroscope 1.x: `name`, `from`, `until`, `format=pprof`, `sampleRate`, `spyName`; the
/// profile as the `profile` field of a multipart/form-data body).
///
/// Recording and sending are separate tasks joined by a ``PushBacklog``: a backend that is down
/// or slow never delays the next recording; unsent profiles wait in the backlog (the oldest
/// dropped beyond its bound) and are retried with exponential backoff.
struct PushLoop {
    let configuration: ServeConfiguration
    let url: PushURL

    static func startLine(_ configuration: ServeConfiguration, url: PushURL) -> String {
        "perch serve: pushing a \(configuration.pushEvery)-second profile of \(configuration.targetDescription) to http://\(url.host):\(url.port)\(url.prefix)/ingest every \(configuration.pushEvery) s as \(configuration.application)"
    }

    func run(say: @escaping @Sendable (String) -> Void) async throws {
        let backlog = PushBacklog(limit: configuration.pushBacklog)
        let sender = Task { await send(from: backlog, say: say) }
        defer { sender.cancel() }
        let host = Self.hostname()
        while !Task.isCancelled {
            let job = RecordingJob(kind: .cpu, seconds: configuration.pushEvery, configuration: configuration)
            // A stop signal cancels this task: the child recording is stopped (and its files
            // removed) instead of being left running.
            let outcome = await withTaskCancellationHandler { await job.run() } onCancel: { job.cancel() }
            if Task.isCancelled { return }
            switch outcome {
            case .success(let profile):
                let name = "\(configuration.application).cpu{hostname=\(host)}"
                let query = "name=\(Self.percentEncoded(name))&from=\(profile.from)&until=\(profile.until)&format=pprof"
                    + "&sampleRate=\(configuration.frequency)&spyName=perch"
                let (waiting, dropped) = await backlog.add(PendingProfile(query: query, pprof: profile.pprof))
                if waiting > 1 || dropped > 0 {
                    say("perch serve: \(waiting) profiles wait for the backend (at most \(configuration.pushBacklog)); \(dropped) dropped so far")
                }
            case .failure(let error):
                say("perch serve: this period was not recorded: \(error.message)")
                try await Task.sleep(nanoseconds: UInt64(configuration.pushEvery) * 1_000_000_000)
            }
        }
    }

    /// Sends the backlog's oldest profile until it is taken, waiting longer after each failure.
    private func send(from backlog: PushBacklog, say: @escaping @Sendable (String) -> Void) async {
        var delay = 1.0
        var failing = false
        while !Task.isCancelled {
            guard let pending = await backlog.oldest() else {
                try? await Task.sleep(nanoseconds: 200_000_000)
                continue
            }
            let boundary = "perch-\(UInt64.random(in: 1...UInt64.max))"
            var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
            body += pending.pprof
            body += Array("\r\n--\(boundary)--\r\n".utf8)
            let outcome = await HTTPPost.send(host: url.host, port: url.port, path: "\(url.prefix)/ingest?\(pending.query)",
                                              contentType: "multipart/form-data; boundary=\(boundary)", body: body)
            switch outcome {
            case .success(let status) where (200..<300).contains(status):
                await backlog.remove(pending)
                if failing { say("perch serve: the backend takes profiles again") }
                failing = false
                delay = 1
                continue
            case .success(let status) where (400..<500).contains(status) && status != 429:
                // The backend refuses this profile: retrying it would not help.
                await backlog.remove(pending)
                say("perch serve: the backend refused a profile with HTTP \(status); dropped")
                continue
            case .success(let status):
                if !failing { say("perch serve: the backend answered HTTP \(status); retrying with backoff (backlog of at most \(configuration.pushBacklog) profiles)") }
            case .failure(let error):
                if !failing { say("perch serve: cannot push: \(error); retrying with backoff (backlog of at most \(configuration.pushBacklog) profiles)") }
            }
            failing = true
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            delay = min(delay * 2, 60)
        }
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// RFC 3986 query-component encoding (unreserved characters kept).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (byte < 16 ? "0" + hex : hex)
            }
        }
        return out
    }
}

/// A recorded profile not yet taken by the backend.
struct PendingProfile: Sendable, Equatable {
    let id = UInt64.random(in: 0...UInt64.max)
    let query: String
    let pprof: [UInt8]
}

/// The profiles waiting to be sent, oldest first: at most `limit`; a new one beyond it drops the oldest.
public actor PushBacklog {
    /// 16 periods (16 × 15 s = 4 minutes of an outage at the default period) kept.
    public static let defaultLimit = 16
    private let limit: Int
    private var pending: [PendingProfile] = []
    private(set) var dropped = 0

    init(limit: Int) { self.limit = limit }

    /// Adds `profile`; answers how many wait now and how many were dropped so far.
    func add(_ profile: PendingProfile) -> (waiting: Int, dropped: Int) {
        pending.append(profile)
        while pending.count > limit {
            pending.removeFirst()
            dropped += 1
        }
        return (pending.count, dropped)
    }

    func oldest() -> PendingProfile? { pending.first }

    func remove(_ profile: PendingProfile) { pending.removeAll { $0.id == profile.id } }
}
