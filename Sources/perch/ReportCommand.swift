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
        abstract: "Report on a perf.data file written by perch record or perf record."
    )

    @Option(name: [.short, .customLong("input")], help: "The recording to read (default perch.data, else perf.data when only that exists).")
    var input: String?

    @OptionGroup var report: ReportArguments

    @Flag(name: [.customShort("g"), .customLong("call-graph")], help: "Show a caller-based call tree under each entry.")
    var callGraph = false

    @Flag(name: .customLong("off-cpu"), help: "Weight stacks by time blocked (switch-out to switch-in), from a recording with switches.")
    var offCPU = false

    @Flag(name: .customLong("on-off-cpu"), help: "On-CPU samples and off-CPU time in one profile, under [on-cpu] and [off-cpu] roots.")
    var onOffCPU = false

    @Option(name: .long, help: "Only these commands (comma-separated).")
    var comm: String?

    @Option(name: .long, help: "Only these processes (comma-separated).")
    var pid: IDFilter?

    @Option(name: .long, help: "Only these threads (comma-separated).")
    var tid: IDFilter?

    @Option(name: .long, help: "Report only this event of a recording with several (e.g. page-faults); the default is a section per event in the text report, and the first event in every other output.")
    var event: String?

    @Option(name: .long, help: "Only samples taken on these CPUs (e.g. 0,2-3).")
    var cpu: CPUList?

    func run() throws {
        var filter = ProfileFilter()
        filter.comms = Set((comm ?? "").split(separator: ",").map(String.init))
        filter.pids = pid?.ids ?? []
        filter.tids = tid?.ids ?? []
        filter.cpus = Set(cpu?.cpus ?? [])
        let weighting: ProfileBuilder.Weighting = onOffCPU ? .onAndOffCPU : offCPU ? .offCPU : .onCPU
        let profiles = try loadProfiles(path: inputPath(), weighting: weighting, splitByCPU: !filter.cpus.isEmpty, event: event)
            .map { $0.filtered(by: filter) }
        // The text report has a section per event, as perf's; JSON and the files take the first.
        for (index, profile) in profiles.enumerated() where index == 0 || !report.json {
            if index > 0 { try writeOut("\n") }
            try report.emit(profile, colour: isatty(1) != 0, callGraph: callGraph, writingFiles: index == 0)
        }
    }
}

extension ReportCommand {
    /// `-i`, or perch.data, or perf.data (saying so) when only perf's file is here, as users of
    /// `perf report` expect.
    func inputPath() -> String {
        if let input { return input }
        if access("perch.data", F_OK) != 0, access("perf.data", R_OK) == 0 {
            printError("perch: note: no perch.data here; reading perf.data")
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
