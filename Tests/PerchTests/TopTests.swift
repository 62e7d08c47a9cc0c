import Foundation
import Testing
import TestSupport

/// `perch top` end to end: the full-screen view driven in a real terminal (tmux), its keys, the
/// terminal restored after `q` and after Ctrl-C; the `--stdio` table as root (the whole machine)
/// and unprivileged at paranoid 2 (its own processes, and the note saying why).
@Suite(.serialized, .enabled(if: Support.isRoot && Support.commandExists("tmux") && Support.commandExists("setpriv"),
                             "needs root, tmux and setpriv"))
struct TopTests {
    /// A tmux server of its own, so the tests never touch the user's sessions.
    private struct Tmux {
        let socket = "perch-top-test-\(getpid())-\(UUID().uuidString.prefix(8))"

        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            try Support.run("tmux", ["-L", socket] + arguments).stdout
        }

        /// Starts the server with the session running `script`. The server outlives the client and
        /// keeps the descriptors it inherited, among them those Foundation watches to see its child
        /// exit: the shell closes every one above 2 first.
        func start(columns: Int, rows: Int, script: String) throws {
            let launch = """
                for fd in $(ls /proc/$$/fd); do if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done
                exec tmux -L "$0" new-session -d -s top -x "$1" -y "$2" "$3" </dev/null >/dev/null 2>&1
                """
            let started = try Support.run("bash", ["-c", launch, socket, "\(columns)", "\(rows)", script])
            if started.status != 0 { throw TestFailure("tmux new-session exited \(started.status): \(started.stderr)") }
        }

        /// The pane as text.
        func screen() -> String { (try? run(["capture-pane", "-p", "-t", "top"])) ?? "" }

        /// Whether the pane shows the alternate screen.
        func alternateScreen() -> Bool { (try? run(["display-message", "-p", "-t", "top", "#{alternate_on}"]))?.hasPrefix("1") ?? false }

        func keys(_ keys: String...) throws { try run(["send-keys", "-t", "top"] + keys) }

        func kill() { _ = try? run(["kill-server"]) }

        /// Waits up to `seconds` for `condition` on the pane; returns the last pane seen.
        func wait(_ seconds: Double, until condition: (String) -> Bool) -> (met: Bool, screen: String) {
            let deadline = Date().addingTimeInterval(seconds)
            var last = screen()
            while Date() < deadline {
                if condition(last) { return (true, last) }
                Thread.sleep(forTimeInterval: 0.1)
                last = screen()
            }
            return (condition(last), last)
        }
    }

    /// The 5:3:2 fixture, running long enough for the view.
    private func startWeights() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Support.fixture("known_weights"))
        process.arguments = ["1000000"]
        try process.run()
        return process
    }

    /// Ends the fixture: SIGKILL, since a test runner may have left SIGTERM blocked for its children.
    private func stop(_ process: Process) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// A shell script for the pane: perch top, then its status and the terminal's mode once it ends.
    /// The shell ignores the Ctrl-C meant for perch (a trap, so perch itself gets the default).
    private func paneScript(_ arguments: String) throws -> String {
        let path = Support.workDirectory + "/top-pane-\(UUID().uuidString).sh"
        try """
        #!/bin/sh
        trap true INT
        \(Support.perch) top \(arguments)
        echo "perch-exit=$?"
        stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo|isig)$' | tr '\\n' ' '; echo
        sleep 60
        """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// The first percentage on the line of `symbol` (children when shown) and the line's index.
    private func share(of symbol: String, in screen: String) -> (percent: Double, line: Int)? {
        for (index, line) in screen.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.hasSuffix("[.] " + symbol) {
            guard let field = line.split(separator: " ").first(where: { $0.hasSuffix("%") }),
                  let value = Double(field.dropLast()) else { continue }
            return (value, index)
        }
        return nil
    }

    private func showsSplit(_ screen: String) -> Bool {
        guard let a = share(of: "work_a", in: screen), let b = share(of: "work_b", in: screen),
              let c = share(of: "work_c", in: screen) else { return false }
        return a.line < b.line && b.line < c.line && abs(a.percent - 50) <= 3 && abs(b.percent - 30) <= 3 && abs(c.percent - 20) <= 3
    }

    /// The terminal modes the pane's shell printed after perch ended: cooked again.
    private func expectSaneTerminal(_ screen: String, _ comment: Comment) {
        #expect(screen.contains("perch-exit=0"), comment)
        let modes = screen.split(separator: "\n").first { $0.contains("icanon") }.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        #expect(modes.isSuperset(of: ["icanon", "echo", "isig"]), "\(comment): \(modes)")
    }

    @Test func theFullScreenViewShowsTheSplitAndFollowsItsKeys() throws {
        let weights = try startWeights()
        defer { stop(weights) }
        let tmux = Tmux()
        defer { tmux.kill() }
        let started = Date()
        try tmux.start(columns: 160, rows: 40, script: try paneScript("-p \(weights.processIdentifier) -d 1 -g"))

        // Within two refreshes (plus start-up): work_a, work_b, work_c in order, 50/30/20 within 3 points.
        let first = tmux.wait(4) { showsSplit($0) }
        #expect(first.met, "after \(Date().timeIntervalSince(started)) s:\n\(first.screen)")
        #expect(first.screen.contains("target: pid \(weights.processIdentifier)"), "\(first.screen)")
        #expect(first.screen.contains("Children") && first.screen.contains("Command"), "\(first.screen)")
        #expect(tmux.alternateScreen())

        // s: the next sort order (dso,sym): no Command column.
        try tmux.keys("s")
        let sorted = tmux.wait(2) { $0.contains("sorted by dso,sym") }
        #expect(sorted.met, "\(sorted.screen)")
        #expect(!sorted.screen.contains("Command") && sorted.screen.contains("Shared Object"), "\(sorted.screen)")

        // g: the selected (top) row, unit, opens its caller tree: work_a, work_b, work_c as branches.
        // Self time first (c), so unit is the top row: with children, __libc_start_call_main has
        // every sample and unit all but a few, and either may come first.
        try tmux.keys("c")
        let selfOnly = tmux.wait(2) { !$0.contains("Children") }
        #expect(selfOnly.met, "\(selfOnly.screen)")
        let top = tmux.wait(3) { $0.split(separator: "\n").first { $0.split(separator: " ").first?.hasSuffix("%") == true }?.hasSuffix("[.] unit") == true }
        #expect(top.met, "\(top.screen)")
        try tmux.keys("g")
        let tree = tmux.wait(2) { screen in
            screen.contains("---unit") && ["work_a", "work_b", "work_c"].allSatisfy { name in
                screen.split(separator: "\n").contains { $0.contains("--") && $0.hasSuffix(name) }
            }
        }
        #expect(tree.met, "\(tree.screen)")
        try tmux.keys("g")
        let closed = tmux.wait(2) { !$0.contains("---unit") }
        #expect(closed.met, "\(closed.screen)")
        try tmux.keys("c")
        let children = tmux.wait(2) { $0.contains("Children") }
        #expect(children.met, "\(children.screen)")

        // /: only rows whose symbol contains the text; Escape clears it.
        try tmux.keys("/", "work_b", "Enter")
        let filtered = tmux.wait(2) { $0.contains("[filter: work_b]") }
        #expect(filtered.met, "\(filtered.screen)")
        #expect(share(of: "work_b", in: filtered.screen) != nil && share(of: "work_a", in: filtered.screen) == nil
                && share(of: "unit", in: filtered.screen) == nil, "\(filtered.screen)")
        try tmux.keys("Escape")
        let unfiltered = tmux.wait(2) { share(of: "work_a", in: $0) != nil && !$0.contains("[filter") }
        #expect(unfiltered.met, "\(unfiltered.screen)")

        // z: every count forgotten at once (an empty table until the next refresh), then back.
        try tmux.keys("z")
        let zeroed = tmux.wait(1) { $0.contains("zeroed") }
        #expect(zeroed.met && share(of: "work_a", in: zeroed.screen) == nil, "\(zeroed.screen)")
        let back = tmux.wait(3) { share(of: "work_a", in: $0) != nil }
        #expect(back.met, "\(back.screen)")

        // q: perch ends with status 0, off the alternate screen, the terminal cooked again.
        try tmux.keys("q")
        let ended = tmux.wait(3) { $0.contains("perch-exit=") && $0.contains("icanon") }
        #expect(ended.met, "\(ended.screen)")
        #expect(!tmux.alternateScreen())
        expectSaneTerminal(ended.screen, "after q")
    }

    @Test func ctrlCRestoresTheTerminal() throws {
        let weights = try startWeights()
        defer { stop(weights) }
        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start(columns: 120, rows: 30, script: try paneScript("-p \(weights.processIdentifier) -d 1"))
        let running = tmux.wait(4) { $0.contains("Samples:") && $0.contains("[.] unit") }
        #expect(running.met, "\(running.screen)")
        #expect(tmux.alternateScreen())
        try tmux.keys("C-c")
        let ended = tmux.wait(3) { $0.contains("perch-exit=") && $0.contains("icanon") }
        #expect(ended.met, "\(ended.screen)")
        #expect(!tmux.alternateScreen())
        expectSaneTerminal(ended.screen, "after Ctrl-C")
    }

    @Test func theWindowsSizeIsFollowed() throws {
        let weights = try startWeights()
        defer { stop(weights) }
        let tmux = Tmux()
        defer { tmux.kill() }
        try tmux.start(columns: 160, rows: 40, script: try paneScript("-p \(weights.processIdentifier) -d 5 -g"))
        let wide = tmux.wait(7) { share(of: "work_c", in: $0) != nil }
        #expect(wide.met, "\(wide.screen)")
        // Smaller: the view redraws at once (SIGWINCH), long before the next refresh, within 20 rows.
        try tmux.run(["resize-window", "-t", "top", "-x", "100", "-y", "12"])
        let narrow = tmux.wait(1.5) { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.count <= 13 && lines.allSatisfy { $0.count <= 100 } && screen.contains("q quit")
        }
        #expect(narrow.met, "\(narrow.screen)")
        try tmux.keys("q")
    }

    /// `perch top --stdio -d 1 --limit 5` for a few refreshes (the whole machine takes a moment to open).
    private func stdioRun(_ prefix: [String], extra: [String] = []) throws -> Support.Outcome {
        let command = prefix + ["timeout", "--preserve-status", "-s", "INT", "10", Support.perch, "top", "--stdio", "-d", "1", "--limit", "5"] + extra
        return try Support.run(command[0], Array(command.dropFirst()))
    }

    /// Rows of the `--stdio` tables (the lines with a percentage).
    private func rows(_ output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.split(separator: " ").first?.hasSuffix("%") == true }
    }

    @Test func unprivilegedAtParanoid2ItShowsItsOwnProcessesWithTheNote() throws {
        let path = "/proc/sys/kernel/perf_event_paranoid"
        let original = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { try? original.write(toFile: path, atomically: false, encoding: .utf8) }
        try "2".write(toFile: path, atomically: false, encoding: .utf8)
        let weights = try Support.fixture("known_weights")
        // One of nobody's processes, running before perch starts.
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
        let outcome = try Support.run(nobody[0], Array(nobody.dropFirst()) + ["sh", "-c", """
            \(weights) 1000000 & busy=$!; sleep 0.3
            timeout --preserve-status -s INT 3.5 \(Support.perch) top --stdio -d 1 --limit 5; status=$?
            kill -9 $busy; exit $status
            """])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("perch: note: showing only the") && outcome.stderr.contains("processes of uid 65534")
                && outcome.stderr.contains("kernel.perf_event_paranoid <= 0 (it is 2)") && outcome.stderr.contains("setcap cap_perfmon+ep"),
                "\(outcome.stderr)")
        #expect(outcome.stdout.contains("target: ") && outcome.stdout.contains("processes of uid 65534"), "\(outcome.stdout)")
        let tableRows = rows(outcome.stdout)
        #expect(!tableRows.isEmpty, "\(outcome.stdout)")
        // Only nobody's processes: the fixture, perch itself (its main and dispatch threads), the shell.
        let commands = Set(tableRows.compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) })
        #expect(commands.allSatisfy { ["known_weights", "perch", "sh", "timeout", "sleep"].contains($0) || $0.hasSuffix("-qos") || $0.hasSuffix(".overcommit") },
                "\(commands)")
        #expect(tableRows.contains { $0.hasSuffix("[.] unit") }, "\(outcome.stdout)")
        #expect(tableRows.allSatisfy { !$0.contains("[k]") }, "kernel frames at paranoid 2: \(outcome.stdout)")
    }

    @Test func asRootItShowsTheWholeMachine() throws {
        let weights = try startWeights()
        defer { stop(weights) }
        let outcome = try stdioRun([], extra: ["--comm", "known_weights"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("target: whole machine"), "\(outcome.stdout)")
        #expect(!outcome.stderr.contains("showing only"), "\(outcome.stderr)")
        let tables = outcome.stdout.components(separatedBy: "\n\n").filter { $0.contains("Samples:") }
        #expect(tables.count >= 2, "\(outcome.stdout)")
        #expect(tables.allSatisfy { rows($0).count <= 5 }, "\(outcome.stdout)")
        #expect(rows(outcome.stdout).contains { $0.hasSuffix("[.] unit") && $0.contains("known_weights") }, "\(outcome.stdout)")
    }

    @Test func jsonGivesOneObjectPerRefresh() throws {
        let weights = try startWeights()
        defer { stop(weights) }
        let outcome = try Support.run("timeout", ["--preserve-status", "-s", "INT", "3.5", Support.perch, "top", "--json", "-d", "1", "-p", "\(weights.processIdentifier)"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n")
        #expect(lines.count >= 2, "\(outcome.stdout)")
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            let entries = (object?["report"] as? [String: Any])?["entries"] as? [[String: Any]] ?? []
            #expect(object?["samplesPerSecond"] as? Int ?? 0 > 0, "\(line)")
            #expect(entries.first?["symbol"] as? String == "unit", "\(line)")
        }
    }

    @Test func dwarfCallGraphsAreRefusedWithTheReason() throws {
        let outcome = try Support.perch(["top", "--call-graph", "dwarf"])
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("DWARF stack copies cost too much live"), "\(outcome.stderr)")
    }
}
