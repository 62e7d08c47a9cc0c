import PerfABI
import Profiling
import ProfileModel
import Recording
import Reporting
import Symbolication
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// The live consumer of `perch top`: takes the drained records into a ``LiveProfile``, and at
/// every refresh draws the view — on the full screen (keys act at once), as a `--stdio` table,
/// or as one `--json` object.
final class TopSession: LiveRecordConsumer {
    enum Output {
        case screen(TopTerminal)
        case table(limit: Int)
        case json
    }

    private let output: Output
    private let interval: Double
    private let targetText: String
    private let filter: ProfileFilter
    private var extraNotes: [ReportNote]
    private var notes: [ReportNote] = []
    private let symbolizer = LiveSymbolizer { DWARFSymbolizer() }
    private var live: LiveProfile?
    private var view: TopView
    private var eventText = ""
    private let started = monotonicNow()
    private var lastRefresh = monotonicNow()
    /// The header's figures, from the last timed refresh.
    private var header = ""
    private var refreshes = 0
    /// Set when the output could not be written (a closed pipe): the view ends.
    private(set) var writeFailure: WriteError?

    init(output: Output, interval: Double, target: String, filter: ProfileFilter, notes: [ReportNote], view: TopView) {
        self.output = output
        self.interval = interval
        self.targetText = target
        self.filter = filter
        self.extraNotes = notes
        self.view = view
    }

    func begin(events: [EventDescription], notes: [ReportNote]) {
        live = LiveProfile(events: events, symbolizer: symbolizer)
        self.notes = extraNotes + notes
        let attributes = events[0].attributes
        eventText = events[0].name + (attributes.frequency.map { " \($0) Hz" } ?? attributes.period.map { " period \($0)" } ?? "")
        header = "waiting for the first refresh (every \(formatInterval(interval)))…"
        if case .screen = output { draw(refreshed: false) }
    }

    func consume(_ record: UnsafeRawBufferPointer) {
        live?.add(record)
    }

    func passEnded() -> Bool {
        guard let live else { return true }
        live.endPass()
        var redraw = false
        if case .screen(let terminal) = output {
            for key in terminal.readKeys() {
                switch view.handle(key, rowCount: lastRowCount) {
                case .quit: return false
                case .zero: live.zero()
                case .redraw: break
                }
                redraw = true
            }
            if terminal.takeResize() { redraw = true }
        }
        let now = monotonicNow()
        if now - lastRefresh >= interval {
            refresh(now: now)
            return writeFailure == nil
        }
        if redraw { draw(refreshed: false) }
        return writeFailure == nil
    }

    private var lastRowCount = 0

    /// A timed refresh: the header's figures for the interval, decay, then the view.
    private func refresh(now: Double) {
        guard let live else { return }
        let recent = live.takeRecentCounters()
        let seconds = max(now - lastRefresh, 0.001)
        lastRefresh = now
        refreshes += 1
        let rate = Double(recent.samples) / seconds
        let kernel = recent.samples == 0 ? 0 : Double(recent.kernelSamples) * 100 / Double(recent.samples)
        let total = live.total
        header = "Samples: \(Int(rate.rounded()))/s  lost: \(recent.lostRecords) (\(total.lostRecords) total)"
            + (total.lostSamples > 0 ? "  dropped: \(recent.lostSamples) (\(total.lostSamples) total)" : "")
            + "  kernel: \(TextReport.percentText(kernel))  event: \(eventText)  target: \(targetText)"
        switch output {
        case .screen:
            draw(refreshed: true)
        case .table(let limit):
            printTable(limit: limit)
        case .json:
            printJSON(rate: rate, kernel: kernel, recent: recent, elapsed: now - started)
        }
        if view.decay { live.decay() }
    }

    /// The profile as the view asks for it, and its table.
    private func currentTable(callGraph: Bool) -> (profile: Profile, table: OverheadTable)? {
        guard let live else { return nil }
        let profile = view.restricted(live.profile(notes: notes).filtered(by: filter))
        return (profile, OverheadTable(profile: profile, options: view.reportOptions(callGraph: callGraph)))
    }

    private func draw(refreshed: Bool) {
        guard case .screen(let terminal) = output else { return }
        let (rows, columns) = terminal.size
        var lines = [cut(header, columns)]
        var status = view.settingsText
        if let pending = symbolizer.pendingCount > 0 ? symbolizer.pendingCount : nil { status += (status.isEmpty ? "" : ", ") + "naming \(pending) addresses" }
        for note in notes { lines.append(cut("note: " + note.text, columns)) }
        if view.showHelp {
            lines += TopView.help.map { cut($0, columns) }
            terminal.draw(Array(lines.prefix(rows)))
            return
        }
        guard let (profile, table) = currentTable(callGraph: view.expanded) else { return }
        let visibleRows = view.rows(of: table).count
        lastRowCount = visibleRows
        if view.selected >= visibleRows { view.selected = max(0, visibleRows - 1) }
        let footer: String
        if let editing = view.editingFilter {
            footer = "filter by symbol: " + editing + "▏  (Enter applies, Esc cancels)"
        } else {
            footer = (view.message.map { $0 + " · " } ?? "") + (status.isEmpty ? "" : "[\(status)] ") + "q quit  ? help  z zero  d decay  s sort  c children  ↑↓ g call tree  k/u kernel/user  / filter"
        }
        lines.append("")
        let available = max(1, rows - lines.count - 1)
        // The rows that fit; with a call tree open, the tree takes the room it needs below its row.
        var table_ = view.tableLines(table, profile: profile, limit: available - 1, width: columns, colour: true, highlight: true)
        if table_.count > available { table_ = Array(table_.prefix(available)) }
        lines += table_
        while lines.count < rows - 1 { lines.append("") }
        lines.append("\u{1B}[2m" + cut(footer, columns))
        terminal.draw(lines)
        if refreshed { view.message = nil }
    }

    private func printTable(limit: Int) {
        guard let (profile, table) = currentTable(callGraph: false) else { return }
        var text = header + "\n"
        if refreshes == 1 { for note in notes { text += "note: \(note.text)\n" } }
        text += view.tableLines(table, profile: profile, limit: limit, width: nil, colour: false, highlight: false).joined(separator: "\n")
        text += "\n\n"
        write(text)
    }

    private func printJSON(rate: Double, kernel: Double, recent: LiveProfile.Counters, elapsed: Double) {
        guard let (profile, _) = currentTable(callGraph: false) else { return }
        // The report's JSON on one line: its strings hold no raw newlines, only its layout does.
        let report = TextReport.json(profile, options: view.reportOptions(callGraph: false))
            .split(separator: "\n").map { $0.drop { $0 == " " } }.joined()
        let total = live?.total ?? LiveProfile.Counters()
        func string(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where scalar.value < 0x20: out += "\\u" + String(scalar.value, radix: 16).alignedRight(4, pad: "0")
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        var text = "{\"elapsedSeconds\": \(Double(Int(elapsed * 1000)) / 1000)"
        text += ", \"samplesPerSecond\": \(Int(rate.rounded()))"
        text += ", \"lostRecords\": \(recent.lostRecords), \"lostRecordsTotal\": \(total.lostRecords)"
        text += ", \"lostSamples\": \(recent.lostSamples), \"lostSamplesTotal\": \(total.lostSamples)"
        text += ", \"kernelPercent\": \(Double(Int(kernel * 100)) / 100)"
        text += ", \"event\": \(string(eventText)), \"target\": \(string(targetText))"
        text += ", \"report\": \(report)}\n"
        write(text)
    }

    private func write(_ text: String) {
        do {
            try writeOut(text)
        } catch {
            writeFailure = error
        }
    }
}

/// "2 s", "0.5 s".
func formatInterval(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
}

func monotonicNow() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
