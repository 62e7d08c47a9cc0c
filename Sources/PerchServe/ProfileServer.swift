#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import PerfEvents
import Recording

/// Go's pprof HTTP contract over ``SharedRecordings``:
/// `GET /debug/pprof/profile?seconds=N`, `GET /debug/pprof/offcpu?seconds=N`, `GET /debug/pprof/`
/// and `GET /healthz`. Errors are a status and a one-line text body.
struct ProfileResponder: ServeResponder {
    let configuration: ServeConfiguration
    let recordings: SharedRecordings

    func respond(to request: ServeRequest) async -> ServeResponse {
        do {
            return try await route(request)
        } catch {
            return Self.failure(error)
        }
    }

    private func route(_ request: ServeRequest) async throws(ServeError) -> ServeResponse {
        let path = request.path
        let kind = ProfileKind.allCases.first { $0.path == path }
        let known = kind != nil || path == "/healthz" || path == "/debug/pprof/" || path == "/debug/pprof"
        guard known else { throw ServeError(.notFound, "no such endpoint: \(path.prefix(200)) (see /debug/pprof/)") }
        // HEAD only where it costs nothing: a profile is recorded for GET alone.
        guard request.method == .GET || (request.method == .HEAD && kind == nil) else {
            throw ServeError(.methodNotAllowed, "\(request.method.rawValue) \(path.prefix(200)): only GET is served")
        }
        if path == "/healthz" { return Self.text("ok\n") }
        guard let kind else { return Self.text(index(), contentType: "text/html; charset=utf-8") }
        let seconds = try Self.seconds(request.query["seconds"])
        let ticket = try await recordings.join(kind, seconds: seconds)
        // A client that goes away before its profile is ready leaves the recording (stopping it
        // if nobody else waits for it): NIO reads nothing more from the connection while the
        // answer is pending, but it still sees the client's FIN (EPOLLRDHUP) and closes it.
        let recordings = self.recordings
        request.channel.closeFuture.whenComplete { _ in Task { await recordings.leave(ticket) } }
        let result = await recordings.result(ticket)
        await recordings.leave(ticket)
        switch result {
        case .failure(let error):
            throw error
        case .success(let profile):
            var headers = [("Content-Type", "application/octet-stream"),
                           ("Content-Disposition", "attachment; filename=\"\(kind == .cpu ? "profile" : "offcpu").pb.gz\"")]
            if !profile.notes.isEmpty {
                headers.append(("X-Perch-Notes", Self.headerValue(profile.notes.joined(separator: "; "))))
            }
            if ticket.joined {
                headers.append(("X-Perch-Shared", "this profile is of a recording that another request started up to \(Int(SharedRecordings.joinWindow(seconds: seconds))) s earlier"))
            }
            return ServeResponse(status: 200, headers: headers, body: profile.pprof)
        }
    }

    /// `seconds` validated: absent means Go's default, 30.
    static func seconds(_ text: String?) throws(ServeError) -> Int {
        guard let text else { return ServeConfiguration.defaultSeconds }
        let range = ServeConfiguration.secondsRange
        guard let value = Int(text), range.contains(value) else {
            throw ServeError(.badRequest, "seconds=\(text.prefix(40)): give a whole number of seconds from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// The index: the endpoints, the target, and what the planner leaves out for this user.
    func index() -> String {
        var html = "<!DOCTYPE html>\n<html><head><title>perch serve</title></head><body>\n<h1>perch serve</h1>\n"
        html += "<p>Recording \(Self.escape(configuration.targetDescription)) at \(configuration.frequency) Hz.</p>\n<ul>\n"
        html += "<li><a href=\"/debug/pprof/profile?seconds=\(ServeConfiguration.defaultSeconds)\">profile</a>: CPU time (gzipped profile.proto, nanoseconds); ?seconds=N, \(ServeConfiguration.secondsRange.lowerBound) to \(ServeConfiguration.secondsRange.upperBound), default \(ServeConfiguration.defaultSeconds)</li>\n"
        html += "<li><a href=\"/debug/pprof/offcpu?seconds=\(ServeConfiguration.defaultSeconds)\">offcpu</a>: time blocked (switch-out to switch-in, nanoseconds); ?seconds=N</li>\n"
        html += "<li><a href=\"/healthz\">healthz</a></li>\n</ul>\n"
        for kind in ProfileKind.allCases {
            html += "<h2>\(kind == .cpu ? "profile" : "offcpu"): what this user may record</h2>\n<ul>\n"
            for line in ServePlan.notes(kind, configuration: configuration) { html += "<li>\(Self.escape(line))</li>\n" }
            html += "</ul>\n"
        }
        return html + "</body></html>\n"
    }

    static func text(_ body: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> ServeResponse {
        ServeResponse(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    static func failure(_ error: ServeError) -> ServeResponse {
        var response = text(error.message + "\n", status: error.status.rawValue)
        if let retry = error.retryAfter { response.headers.append(("Retry-After", "\(retry)")) }
        return response
    }

    /// A header value: printable ASCII only, at most 4 KiB.
    static func headerValue(_ text: String) -> String {
        String(String(text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }).prefix(4096))
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// What the planner decides this user may record, in `perch doctor`'s words.
enum ServePlan {
    static func notes(_ kind: ProfileKind, configuration: ServeConfiguration) -> [String] {
        let target: RecordingTarget = configuration.target == .allCPUs ? .systemWide(cpus: nil, command: nil) : .attach(pids: [getpid()])
        var options = RecordOptions(target: target)
        options.frequency = configuration.frequency
        options.contextSwitches = kind == .offCPU
        do {
            let plan = try RecordingPlanner.plan(options, probe: PrivilegeProbe.run())
            return plan.degradations.isEmpty ? ["everything asked for: nothing is left out"] : plan.degradations.map(\.description)
        } catch {
            return ["refused: \(error)"]
        }
    }
}
