import ArgumentParser
import PerfRecords
import ProfileModel
import Profiling
import Reporting
import Symbolication
#if canImport(Glibc)
import Glibc
#endif

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report on a perf.data file written by perch record or perf record.",
        discussion: """
        Where Perch differs from perf report on purpose:
          --no-children is the default (perf: --children).
          -g draws callee order, with --children too (perf: caller there).
          -i defaults to perch.data, else perf.data if only that exists.
          The text report (--stdio) is the only mode: no --tui, no --gtk.
          -q prints only the entries, as perf's; -v adds a line per DSO.
        """
    )

    @Option(name: [.short, .customLong("input")], help: "The recording to read (default perch.data, else perf.data when only that exists).")
    var input: String?

    @OptionGroup var report: ReportArguments

    @Flag(name: .customShort("g"), help: "Show each entry's call graph: perf's default graph,0.5,callee. -g SPEC is --call-graph SPEC.")
    var callGraphDefault = false

    @Option(name: .customLong("call-graph"), help: ArgumentHelp("perf report's call graph syntax, comma-separated: graph (percent of the total), fractal (percent of the parent), flat, folded or none; callee (the entry, then its callers; the default, also with --children, where perf's default is caller) or caller (from main down to the entry); a percent limit, the smallest share of the entry a branch needs (default 0.5). E.g. -g caller, --call-graph=graph,0.5,caller.", valueName: "spec"))
    var callGraph: CallGraphRequest?

    @Flag(name: .customShort("G"), help: "perf's --inverted: the call graph in caller order (-g caller).")
    var invertedCallGraph = false

    @Flag(name: [.customShort("n"), .customLong("show-nr-samples")], help: "A Samples column beside the overhead: how many samples each entry's sampled frame had.")
    var showSampleCount = false

    @Flag(name: .long, help: "Print the recording's header first, in perf's '# ========' block: host, OS release, recorder, CPUs, command line, each event's attributes and samples, the sample count and duration.")
    var header = false

    @Flag(name: .customLong("header-only"), help: "Print only the recording's header (see --header).")
    var headerOnly = false

    @Flag(name: [.short, .long], help: "Also print, on standard error, a line per shared object: its samples, frames, and frames with no symbol, with its build-id.")
    var verbose = false

    @Flag(name: [.short, .long], help: "Silent but for errors: no notes on standard error and, as perf's -q, no '#' lines (header, notes, column titles): only the entries.")
    var quiet = false

    @Flag(name: .customLong("off-cpu"), help: "Weight stacks by time blocked (switch-out to switch-in), from a recording with switches.")
    var offCPU = false

    @Flag(name: .customLong("on-off-cpu"), help: "On-CPU samples and off-CPU time in one profile, under [on-cpu] and [off-cpu] roots.")
    var onOffCPU = false

    @Option(name: [.customLong("comm"), .customLong("comms")], help: "Only these commands (comma-separated).")
    var comm: String?

    @Option(name: [.customLong("pid"), .customLong("pids")], help: "Only these processes (comma-separated).")
    var pid: IDFilter?

    @Option(name: [.customLong("tid"), .customLong("tids")], help: "Only these threads (comma-separated).")
    var tid: IDFilter?

    @Option(name: .customLong("dsos"), help: "Only samples whose sampled frame is in these shared objects (comma-separated; a path, a file name, or the name the report shows, e.g. libc.so.6,[kernel.kallsyms]).")
    var dsos: String?

    @Option(name: .customLong("max-stack"), parsing: .unconditional, help: "Keep at most N frames of each stack, from the sampled frame (as perf; 0 keeps the sampled frame alone).")
    var maxStack: StackDepth?

    @Option(name: .long, help: "Report only this event of a recording with several (e.g. page-faults); the default is a section per event in the text report, and the first event in every other output.")
    var event: String?

    @Option(name: [.customShort("C"), .long], help: "Only samples taken on these CPUs (e.g. 0,2-3).")
    var cpu: CPUList?

    @Flag(name: [.short, .long], help: "Accepted for perf compatibility: Perch reads a recording whoever owns it.")
    var force = false

    @Flag(name: [.customLong("tui"), .customLong("gtk")], help: .hidden)
    var interactive = false

    mutating func validate() throws {
        if interactive {
            throw ValidationError("perch report has no --tui or --gtk: the --stdio text report is its only mode (--flamegraph FILE draws an interactive SVG)")
        }
        if verbose && quiet { throw ValidationError("-v/--verbose and -q/--quiet exclude each other: give one") }
    }

    func run() throws {
        var filter = ProfileFilter()
        filter.comms = Set((comm ?? "").split(separator: ",").map(String.init))
        filter.pids = pid?.ids ?? []
        filter.tids = tid?.ids ?? []
        filter.cpus = Set(cpu?.cpus ?? [])
        filter.dsos = Set((dsos ?? "").split(separator: ",").map { $0.trimmed() })
        filter.maxStack = maxStack.map { max(1, $0.value) }
        let path = inputPath()
        if header || headerOnly {
            let file: PerfDataFile
            do { file = try PerfDataFile(path: path) } catch { throw PerchError.badInput("\(error)") }
            let text: String
            do { text = try RecordingHeader(file: file).render() } catch { throw PerchError.badInput("\(path): \(error)") }
            try writeOut(text)
            if headerOnly { return }
        }
        let weighting: ProfileBuilder.Weighting = onOffCPU ? .onAndOffCPU : offCPU ? .offCPU : .onCPU
        let profiles = try loadProfiles(path: path, weighting: weighting, splitByCPU: !filter.cpus.isEmpty, event: event)
            .map { $0.filtered(by: filter) }
        if verbose { printError(DSODetail(profiles[0], file: try? PerfDataFile(path: path)).text) }
        var view = ReportView(showSampleCount: showSampleCount, showHeader: !quiet)
        if let callGraph { view.callGraph = callGraph } else if callGraphDefault || invertedCallGraph { view.callGraph = .standard }
        if invertedCallGraph { view.callGraph?.order = .caller }
        // The text report has a section per event, as perf's; JSON and the files take the first.
        for (index, profile) in profiles.enumerated() where index == 0 || !report.json {
            if index > 0 { try writeOut("\n") }
            try report.emit(profile, colour: isatty(1) != 0, view: view, writingFiles: index == 0)
        }
    }
}

extension ReportCommand {
    /// `-i`, or perch.data, or perf.data (saying so) when only perf's file is here, as users of
    /// `perf report` expect.
    func inputPath() -> String {
        if let input { return input }
        if access("perch.data", F_OK) != 0, access("perf.data", R_OK) == 0 {
            if !quiet { printError("perch: note: no perch.data here; reading perf.data") }
            return "perf.data"
        }
        return "perch.data"
    }
}

/// Reads and symbolizes a recording (its header says what the recording left out).
func loadProfile(path: String, weighting: ProfileBuilder.Weighting = .onCPU,
                 splitByCPU: Bool = false) throws(PerchError) -> Profile {
    try loadProfiles(path: path, weighting: weighting, splitByCPU: splitByCPU, event: nil, allEvents: false)[0]
}

/// A profile per sampled event of a recording (the first event's first), or of `event` alone.
/// With `allEvents` false only the first event's profile is built; it says which others exist.
func loadProfiles(path: String, weighting: ProfileBuilder.Weighting = .onCPU, splitByCPU: Bool = false,
                  event: String?, allEvents: Bool = true) throws(PerchError) -> [Profile] {
    let file: PerfDataFile
    do {
        file = try PerfDataFile(path: path)
    } catch {
        throw .badInput("\(error)")
    }
    func build(_ index: Int) throws(PerchError) -> Profile {
        do {
            return try ProfileBuilder(file: file, symbolizer: DWARFSymbolizer(), weighting: weighting, splitByCPU: splitByCPU,
                                      event: index).build()
        } catch {
            throw .badInput("\(error)")
        }
    }
    if let event {
        guard let index = file.events.firstIndex(where: { $0.name == event }) else {
            throw .badInput("\(path) has no event '\(event)'; it has: \(file.events.map(\.name).joined(separator: ", "))")
        }
        return [try build(index)]
    }
    var first = try build(0)
    let others = first.summary.otherEventSamples.filter { $0.value > 0 }.keys.sorted()
    guard !others.isEmpty, weighting == .onCPU else { return [first] }
    let names = ([0] + others).map { file.events[$0].name }
    first.summary.notes.append(ReportNote(.otherEvents, "this recording samples \(names.count) events (\(names.joined(separator: ", "))): the text report has a section per event; every other output is of \(names[0]) unless --event NAME picks another"))
    guard allEvents else { return [first] }
    var profiles = [first]
    for index in others { profiles.append(try build(index)) }
    return profiles
}
