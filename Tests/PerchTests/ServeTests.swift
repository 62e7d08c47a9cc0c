import Foundation
import Testing
import TestSupport

/// `perch serve` end to end: the real `perch` serving the real kernel's recordings to the real
/// pprof client (`go tool pprof`), curl, and a Pyroscope-style ingest receiver on loopback.
/// Serialized: the recordings need the CPUs.
@Suite(.serialized) struct ServeTests {
    static let goReady = Support.commandExists("go")
    static let curlReady = Support.commandExists("curl")

    /// A background process, its standard error in a file; killed (and reaped) by `stop()`.
    final class Background {
        let process = Process()
        let stderrPath: String

        init(_ program: String, _ arguments: [String]) throws {
            stderrPath = Support.workDirectory + "/serve-\(UUID().uuidString).err"
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            try process.run()
        }

        var pid: Int32 { process.processIdentifier }
        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        func stop() {
            if process.isRunning { kill(pid, SIGKILL) }
            process.waitUntilExit()
            unlink(stderrPath)
        }

        /// The first line of standard error that contains `text`, waited for up to `seconds`.
        func line(containing text: String, seconds: Double = 15) -> String? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let line = stderr.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
                usleep(50_000)
            }
            return nil
        }
    }

    /// `perch serve --listen 127.0.0.1:0 ARGS` and the port it bound (from its start-up line).
    func serve(_ arguments: [String]) throws -> (Background, Int) {
        let server = try Background(Support.perch, ["serve", "--listen", "127.0.0.1:0"] + arguments)
        let line = try #require(server.line(containing: "perch serve: http://"), "no start-up line: \(server.stderr)")
        let port = try #require(line.split(separator: "/")[1].split(separator: ":").last.flatMap { Int($0) }, "\(line)")
        #expect(line.contains("only programs on this machine can read them"), "\(line)")
        return (server, port)
    }

    /// `perch serve -p` of a `sleep 120`: a small target, whose profile is quick to symbolize
    /// (the test process itself is not). Stop both with `stop()` (server first).
    func serveASleeper() throws -> (target: Background, server: Background, port: Int) {
        let target = try Background("/bin/sleep", ["120"])
        do {
            let (server, port) = try serve(["-p", "\(target.pid)"])
            return (target, server, port)
        } catch {
            target.stop()
            throw error
        }
    }

    /// curl's status and body for `url`.
    func fetch(_ url: String, method: String = "GET", maxSeconds: Int = 60) throws -> (status: Int, body: String) {
        let body = Support.workDirectory + "/serve-body"
        let result = try Support.run("curl", ["-s", "-X", method, "-m", "\(maxSeconds)", "-o", body, "-w", "%{http_code}", url])
        defer { unlink(body) }
        return (Int(result.stdout) ?? 0, (try? String(contentsOfFile: body, encoding: .utf8)) ?? "")
    }

    /// Percent of the three functions' total that each has.
    static func shares(_ values: [String: Double], _ names: [String]) -> [String: Double] {
        let total = names.reduce(0) { $0 + (values[$1] ?? 0) }
        guard total > 0 else { return [:] }
        return Dictionary(uniqueKeysWithValues: names.map { ($0, 100 * (values[$0] ?? 0) / total) })
    }

    static let weights = ["work_a": 50.0, "work_b": 30.0, "work_c": 20.0]

    @Test(.enabled(if: goReady && curlReady, "needs go (golang-go) and curl"))
    func goToolPprofReadsTheKnownWeights() throws {
        let workload = try Background(try Support.fixture("known_weights"), ["100000000"])
        defer { workload.stop() }
        // 1999 Hz: a few thousand samples, so sampling noise stays well inside 3 points.
        let (server, port) = try serve(["-F", "1999", "-p", "\(workload.pid)"])
        defer { server.stop() }
        // Twice: the second profile is built by the symbolizer the first one left (its modules kept).
        for round in 1...2 {
            let result = try Support.run("go", ["tool", "pprof", "-top", "-nodecount=1000", "-unit=ns", "-seconds", "3",
                                                "http://127.0.0.1:\(port)/debug/pprof/profile"])
            #expect(result.status == 0, "\(result.stderr)")
            var cum: [String: Double] = [:]
            for line in result.stdout.split(separator: "\n") {
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                guard columns.count == 6, let name = columns.last, Self.weights[String(name)] != nil else { continue }
                cum[String(name)] = Double(columns[3].dropLast(2))
            }
            let shares = Self.shares(cum, Array(Self.weights.keys))
            for (name, expected) in Self.weights {
                #expect(abs((shares[name] ?? 0) - expected) <= 3, "profile \(round): \(name): \(shares[name] ?? 0)% (\(cum)); \(result.stdout)")
            }
            #expect((result.stdout + result.stderr).contains("Type: cpu"), "\(result.stdout)")
        }
    }

    @Test(.enabled(if: goReady && curlReady, "needs go (golang-go) and curl"))
    func offCPUEndpointGivesNanosecondsBlocked() throws {
        let workload = try Background(try Support.fixture("off_cpu"), ["100000"])
        defer { workload.stop() }
        let (server, port) = try serve(["-p", "\(workload.pid)"])
        defer { server.stop() }
        let file = Support.workDirectory + "/serve-offcpu.pb.gz"
        defer { unlink(file) }
        let status = try Support.run("curl", ["-s", "-m", "60", "-o", file, "-w", "%{http_code}",
                                              "http://127.0.0.1:\(port)/debug/pprof/offcpu?seconds=3"])
        #expect(status.stdout == "200")
        let result = try Support.run("go", ["tool", "pprof", "-top", "-unit=ns", "-sample_index=off-cpu", file])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Type: off-cpu"), "\(result.stdout)")
        var cum: [String: Double] = [:]
        for line in result.stdout.split(separator: "\n") {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count == 6, ["sleep_long", "sleep_short", "wait_for_pipe"].contains(String(columns[5])) else { continue }
            cum[String(columns[5])] = Double(columns[3].dropLast(2))
        }
        // 30 ms of each 60 ms round in sleep_long: about 1.5 s of 3 s, in nanoseconds.
        let long = cum["sleep_long"] ?? 0
        #expect(long > 1.0e9 && long < 2.0e9, "sleep_long: \(long) ns; \(result.stdout)")
        let shares = Self.shares(cum, ["sleep_long", "sleep_short", "wait_for_pipe"])
        #expect(abs((shares["sleep_long"] ?? 0) - 50) <= 5 && abs((shares["sleep_short"] ?? 0) - 16.7) <= 5, "\(shares)")
    }

    @Test(.enabled(if: curlReady, "needs curl"))
    func badRequestsAreOneLineErrors() throws {
        let (target, server, port) = try serveASleeper()
        defer { target.stop() }
        defer { server.stop() }
        let base = "http://127.0.0.1:\(port)"
        #expect(try fetch(base + "/healthz") == (200, "ok\n"))
        for seconds in ["0", "301", "abc", "-1", "2.5", ""] {
            let (status, body) = try fetch(base + "/debug/pprof/profile?seconds=\(seconds)")
            #expect(status == 400, "seconds=\(seconds): \(status) \(body)")
            #expect(body.hasSuffix("\n") && body.dropLast().split(separator: "\n").count == 1 && body.contains("1 to 300"), "\(body)")
        }
        let missing = try fetch(base + "/debug/pprof/heap")
        #expect(missing.status == 404 && missing.body == "no such endpoint: /debug/pprof/heap (see /debug/pprof/)\n", "\(missing)")
        let posted = try fetch(base + "/debug/pprof/profile", method: "POST")
        #expect(posted.status == 405 && posted.body.split(separator: "\n").count == 1, "\(posted)")
        let index = try fetch(base + "/debug/pprof/")
        #expect(index.status == 200 && index.body.contains("/debug/pprof/profile") && index.body.contains("what this user may record"))
    }

    /// HTTP/1.1 as clients expect it: one connection for several requests, HEAD answered with
    /// the GET's headers and no body, `Connection: close` honoured, the query percent-decoded.
    @Test(.enabled(if: curlReady, "needs curl"))
    func keepAliveHeadAndQueriesAsHTTPClientsExpect() throws {
        let (target, server, port) = try serveASleeper()
        defer { target.stop() }
        defer { server.stop() }
        let base = "http://127.0.0.1:\(port)"
        // Three requests, one connection.
        let reused = try Support.run("curl", ["-s", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                                              base + "/healthz", base + "/debug/pprof/", base + "/healthz"])
        #expect(reused.stdout == "200 1\n200 0\n200 0\n", "\(reused.stdout)")
        let head = try Support.run("curl", ["-s", "-I", base + "/healthz"])
        let lines = head.stdout.split(separator: "\r\n").map(String.init)
        #expect(lines.first == "HTTP/1.1 200 OK" && lines.contains("Content-Length: 3"), "\(head.stdout)")
        let closed = try Support.run("curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Connection: close", base + "/healthz"])
        #expect(closed.stdout.lowercased().contains("connection: close"), "\(closed.stdout)")
        // %33 is "3": out of range only once decoded as 300+, so the message shows the decoded text.
        let decoded = try fetch(base + "/debug/pprof/profile?seconds=%33%30%31")
        #expect(decoded.status == 400 && decoded.body.hasPrefix("seconds=301:"), "\(decoded)")
    }

    @Test(.enabled(if: curlReady, "needs curl"))
    func aTargetThatExitedIsNotFound() throws {
        let target = try Background("/bin/sleep", ["60"])
        let (server, port) = try serve(["-p", "\(target.pid)"])
        defer { server.stop() }
        target.stop()
        let answer = try fetch("http://127.0.0.1:\(port)/debug/pprof/profile?seconds=1")
        #expect(answer.status == 404 && answer.body == "process \(target.pid) no longer running: nothing to record\n", "\(answer)")
        let head = try Support.run("curl", ["-s", "-I", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/debug/pprof/profile"])
        #expect(head.stdout == "405", "HEAD of a profile: \(head.stdout)")
    }

    @Test(.enabled(if: curlReady, "needs curl"))
    func aClientThatGoesAwayStopsTheRecording() throws {
        let (target, server, port) = try serveASleeper()
        defer { target.stop() }
        defer { server.stop() }
        // The recording is a child `perch record` of whichever server thread started it.
        func recorders() -> Int {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task")) ?? []
            return tasks.reduce(0) { count, task in
                let children = (try? String(contentsOfFile: "/proc/\(server.pid)/task/\(task)/children", encoding: .utf8)) ?? ""
                return count + children.split(separator: " ").count
            }
        }
        // curl gives up after 1 s of a 30-second profile.
        let started = Date()
        let gaveUp = try fetch("http://127.0.0.1:\(port)/debug/pprof/profile?seconds=30", maxSeconds: 1)
        #expect(gaveUp.status == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        let deadline = Date().addingTimeInterval(3)
        while recorders() > 0 && Date() < deadline { usleep(50_000) }
        #expect(recorders() == 0, "the recording outlived its only client")
        // The target is free again at once: no 429 for the next request.
        let next = try fetch("http://127.0.0.1:\(port)/debug/pprof/profile?seconds=1")
        #expect(next.status == 200, "\(next); \(server.stderr)")
    }

    /// A Pyroscope-style ingest receiver: POST /ingest?name&from&until&format=pprof with the
    /// profile as the multipart `profile` field; each accepted body is saved as N.pb.gz and its
    /// query as N.query. `--fail` answers 503 to everything.
    static let receiverScript = #"""
    import http.server, os, sys, urllib.parse
    out, fail = sys.argv[1], len(sys.argv) > 2
    class H(http.server.BaseHTTPRequestHandler):
        count = 0
        def log_message(self, *a): pass
        def do_POST(self):
            url = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(url.query)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ctype = self.headers.get("Content-Type", "")
            ok = url.path == "/ingest" and all(k in q for k in ("name", "from", "until")) and q.get("format") == ["pprof"]
            ok = ok and ctype.startswith("multipart/form-data; boundary=") and not fail
            if ok:
                boundary = ctype.split("boundary=", 1)[1].encode()
                parts = body.split(b"--" + boundary)
                field = [p for p in parts if b'name="profile"' in p.split(b"\r\n\r\n", 1)[0]]
                ok = len(field) == 1
            if not ok:
                self.send_response(503 if fail else 400); self.send_header("Content-Length", "0"); self.end_headers(); return
            data = field[0].split(b"\r\n\r\n", 1)[1][:-2]
            H.count += 1
            open(os.path.join(out, f"{H.count}.pb.gz"), "wb").write(data)
            open(os.path.join(out, f"{H.count}.query"), "w").write(url.query)
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    s = http.server.HTTPServer(("127.0.0.1", 0), H)
    open(os.path.join(out, "port"), "w").write(str(s.server_port))
    s.serve_forever()
    """#

    func receiver(failing: Bool = false) throws -> (Background, Int, String) {
        let directory = Support.workDirectory + "/serve-receiver-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = directory + "/receiver.py"
        try Self.receiverScript.write(toFile: script, atomically: true, encoding: .utf8)
        let process = try Background("/usr/bin/python3", [script, directory] + (failing ? ["--fail"] : []))
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: directory + "/port", encoding: .utf8), let port = Int(text) { return (process, port, directory) }
            usleep(50_000)
        }
        throw TestFailure("the receiver did not start: \(process.stderr)")
    }

    @Test func pushSendsEachPeriodToThePyroscopeIngestAPI() throws {
        let (receiver, receiverPort, directory) = try receiver()
        defer { receiver.stop(); try? FileManager.default.removeItem(atPath: directory) }
        // Linked with a build id, which the first mapping must carry.
        let fixture = try Support.fixture("known_weights", flags: CCompiler.framePointerFlags + ["-Wl,--build-id=sha1"])
        let workload = try Background(fixture, ["100000000"])
        defer { workload.stop() }
        let server = try Background(Support.perch, ["serve", "--push", "http://127.0.0.1:\(receiverPort)", "--every", "3",
                                                    "--app", "weights", "-F", "1999", "-p", "\(workload.pid)"])
        defer { server.stop() }
        let deadline = Date().addingTimeInterval(40)
        while !FileManager.default.fileExists(atPath: directory + "/2.pb.gz") && Date() < deadline { usleep(100_000) }
        #expect(server.stderr.contains("pushing a 3-second profile"), "\(server.stderr)")
        for n in 1...2 {
            let query = try String(contentsOfFile: directory + "/\(n).query", encoding: .utf8)
            let items = Dictionary(query.split(separator: "&").map { item -> (String, String) in
                let pair = item.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), String(pair.count > 1 ? pair[1] : "").removingPercentEncoding ?? "")
            }, uniquingKeysWith: { $1 })
            #expect(items["name"]?.hasPrefix("weights.cpu{hostname=") == true, "\(query)")
            let from = Int(items["from"] ?? "") ?? 0, until = Int(items["until"] ?? "") ?? 0
            #expect(from > 1_600_000_000 && until >= from + 2 && until <= from + 6, "\(query)")
            #expect(items["format"] == "pprof" && items["sampleRate"] == "1999", "\(query)")
            let values = try Self.pprof(directory + "/\(n).pb.gz", functions: Array(Self.weights.keys))
            let shares = Self.shares(values.values, Array(Self.weights.keys))
            for (name, expected) in Self.weights {
                #expect(abs((shares[name] ?? 0) - expected) <= 3, "profile \(n), \(name): \(shares)")
            }
            #expect(values.labels["pid"] == ["\(workload.pid)"], "\(values.labels)")
            #expect(values.labels["tid"] == ["\(workload.pid)"], "\(values.labels)")
            let comm = try String(contentsOfFile: "/proc/\(workload.pid)/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
            #expect(values.labels["comm"] == [comm] && values.labels["thread"] == [comm], "\(values.labels)")
        }
    }

    /// The default sample type's total per function (stacks holding it), and every label's values.
    static func pprof(_ path: String, functions: [String]) throws -> (values: [String: Double], labels: [String: Set<String>]) {
        let unzipped = try Support.run("sh", ["-c", "gzip -dc '\(path)' | base64 -w0"])
        let profile = try #require(Data(base64Encoded: unzipped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let message = ProtobufMessage([UInt8](profile))
        let strings = message.fields(6).map { String(decoding: $0.bytes, as: UTF8.self) }
        func string(_ id: UInt64) -> String { Int(id) < strings.count ? strings[Int(id)] : "?" }
        let types = message.fields(1).map { ProtobufMessage($0.bytes).varint(1) }
        #expect(types.map(string) == ["samples", "cpu"], "sample types \(types.map(string))")
        #expect(message.fields(1).map { string(ProtobufMessage($0.bytes).varint(2)) } == ["count", "nanoseconds"])
        let column = try #require(types.firstIndex(of: message.varint(14)))
        var functionName: [UInt64: String] = [:]
        for function in message.fields(5).map({ ProtobufMessage($0.bytes) }) { functionName[function.varint(1)] = string(function.varint(2)) }
        var locationNames: [UInt64: [String]] = [:]
        for location in message.fields(4).map({ ProtobufMessage($0.bytes) }) {
            locationNames[location.varint(1)] = location.fields(4).compactMap { functionName[ProtobufMessage($0.bytes).varint(1)] }
        }
        var values: [String: Double] = [:], labels: [String: Set<String>] = [:]
        for sample in message.fields(2).map({ ProtobufMessage($0.bytes) }) {
            let names = Set(sample.packed(1).flatMap { locationNames[$0] ?? [] })
            for name in functions where names.contains(name) { values[name, default: 0] += Double(sample.packed(2)[column]) }
            for label in sample.fields(3).map({ ProtobufMessage($0.bytes) }) {
                let key = string(label.varint(1))
                labels[key, default: []].insert(label.varint(2) != 0 ? string(label.varint(2)) : "\(label.varint(3))")
            }
        }
        // The main binary's mapping first, with its build id.
        let first = try #require(message.fields(3).first.map { ProtobufMessage($0.bytes) })
        #expect(string(first.varint(5)).hasSuffix("known_weights") || string(first.varint(5)).contains("known_weights"), "first mapping \(string(first.varint(5)))")
        #expect(string(first.varint(6)).count == 40, "build id \(string(first.varint(6)))")
        return (values, labels)
    }

    @Test func pushKeepsRecordingWithABoundedBacklogWhileTheBackendIsDown() throws {
        let (receiver, receiverPort, directory) = try receiver(failing: true)
        defer { receiver.stop(); try? FileManager.default.removeItem(atPath: directory) }
        let target = try Background("/bin/sleep", ["120"])
        defer { target.stop() }
        let server = try Background(Support.perch, ["serve", "--push", "http://127.0.0.1:\(receiverPort)", "--every", "1",
                                                    "--backlog", "2", "-p", "\(target.pid)"])
        defer { server.stop() }
        // Recording goes on while every push fails: periods are recorded, the oldest dropped beyond 2.
        let dropped = server.line(containing: "2 profiles wait for the backend (at most 2); 2 dropped", seconds: 30)
        #expect(dropped != nil, "\(server.stderr)")
        #expect(server.stderr.contains("the backend answered HTTP 503; retrying with backoff"), "\(server.stderr)")
    }

    /// SIGTERM stops the HTTP server gracefully: no new connection is taken and the profile under
    /// way is finished and answered before perch exits 0.
    @Test(.enabled(if: curlReady, "needs curl"))
    func aStopSignalFinishesTheProfilesUnderWay() throws {
        let (target, server, port) = try serveASleeper()
        defer { target.stop() }
        defer { server.stop() }
        let file = Support.workDirectory + "/serve-graceful.pb.gz"
        defer { unlink(file) }
        let client = try Background("/usr/bin/curl", ["-s", "-o", file, "-w", "%{http_code}", "http://127.0.0.1:\(port)/debug/pprof/profile?seconds=3"])
        defer { client.stop() }
        #expect(waitForRecorder(of: server) != nil, "no child recording started: \(server.stderr)")
        kill(server.pid, SIGTERM)
        usleep(300_000)
        let refused = try fetch("http://127.0.0.1:\(port)/healthz", maxSeconds: 5)
        #expect(refused.status == 0, "a new connection was served after SIGTERM: \(refused)")
        client.process.waitUntilExit()
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 0, "\(server.stderr)")
        let profile = FileManager.default.contents(atPath: file) ?? Data()
        #expect(profile.count > 20 && profile.prefix(2) == Data([0x1F, 0x8B]), "the profile under way was not answered: \(profile.count) bytes")
    }

    /// A second stop signal does not wait: the recording under way stops, its child and its
    /// temporary directory go with it, and perch exits 0 at once (not after the 30 s asked for).
    @Test(.enabled(if: curlReady, "needs curl"))
    func aSecondStopSignalStopsTheRecordingsUnderWay() throws {
        let (target, server, port) = try serveASleeper()
        defer { target.stop() }
        defer { server.stop() }
        let client = try Background("/usr/bin/curl", ["-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/debug/pprof/profile?seconds=30"])
        defer { client.stop() }
        let recorder = try #require(waitForRecorder(of: server), "no child recording started: \(server.stderr)")
        let arguments = (try? String(contentsOfFile: "/proc/\(recorder)/cmdline", encoding: .utf8)) ?? ""
        let directory = try #require(arguments.split(separator: "\0").first { $0.hasSuffix("/perf.data") }.map { String($0.dropLast("/perf.data".count)) },
                                     "the child's output: \(arguments)")
        let stopped = Date()
        kill(server.pid, SIGTERM)
        usleep(200_000)
        #expect(server.process.isRunning, "the first SIGTERM did not wait for the profile under way")
        kill(server.pid, SIGTERM)
        server.process.waitUntilExit()
        #expect(Date().timeIntervalSince(stopped) < 10)
        #expect(server.process.terminationReason == .exit && server.process.terminationStatus == 0, "\(server.stderr)")
        #expect(kill(recorder, 0) != 0, "the child recording outlived the server")
        #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) was left behind")
    }

    /// The first child process of any of `server`'s threads (a recording), waited for up to 10 s.
    func waitForRecorder(of server: Background) -> Int32? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task")) ?? []
            for task in tasks {
                let text = (try? String(contentsOfFile: "/proc/\(server.pid)/task/\(task)/children", encoding: .utf8)) ?? ""
                if let first = text.split(separator: " ").first, let pid = Int32(first) { return pid }
            }
            usleep(50_000)
        }
        return nil
    }

    /// SIGTERM ends push mode cleanly: the period's child recording stops with it and its
    /// temporary directory is removed (they used to be left behind).
    @Test func aStopSignalInPushModeLeavesNoRecordingBehind() throws {
        let target = try Background("/bin/sleep", ["120"])
        defer { target.stop() }
        let server = try Background(Support.perch, ["serve", "--push", "http://127.0.0.1:9", "--every", "30", "-p", "\(target.pid)"])
        defer { server.stop() }
        let recorder = try #require(waitForRecorder(of: server), "no child recording started: \(server.stderr)")
        let arguments = (try? String(contentsOfFile: "/proc/\(recorder)/cmdline", encoding: .utf8)) ?? ""
        let directory = try #require(arguments.split(separator: "\0").first { $0.hasSuffix("/perf.data") }.map { String($0.dropLast("/perf.data".count)) },
                                     "the child's output: \(arguments)")
        kill(server.pid, SIGTERM)
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0 || server.process.terminationReason == .exit, "\(server.stderr)")
        let gone = Date().addingTimeInterval(5)
        while kill(recorder, 0) == 0 && Date() < gone { usleep(50_000) }
        #expect(kill(recorder, 0) != 0, "the child recording outlived the server")
        #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) was left behind")
    }
}

/// A smaller `Scripts/serve-load`: concurrent profile requests and stalled connections leave the
/// server answering, its stalled connections closed and its descriptors back where they were.
@Suite(.serialized) struct ServeLoadTests {
    @Test func concurrentClientsAndStalledConnections() throws {
        let result = try Support.run("python3", [Support.packageRoot + "/Scripts/serve-load", "--perch", Support.perch,
                                                 "--clients", "10", "--stalls", "40", "--seconds", "1"])
        #expect(result.status == 0 && result.stdout.contains("serve-load: ok"), "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("stalled connections closed by the server: 40 of 40"), "\(result.stdout)")
    }
}
