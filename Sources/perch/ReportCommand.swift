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

    @Option(name: [.short, .customLong("input")], help: "The recording to read.")
    var input = "perch.data"

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

    @Option(name: .long, help: "Only samples taken on these CPUs (e.g. 0,2-3).")
    var cpu: CPUList?

    func run() throws {
        var filter = ProfileFilter()
        filter.comms = Set((comm ?? "").split(separator: ",").map(String.init))
        filter.pids = pid?.ids ?? []
        filter.tids = tid?.ids ?? []
        filter.cpus = Set(cpu?.cpus ?? [])
        let weighting: ProfileBuilder.Weighting = onOffCPU ? .onAndOffCPU : offCPU ? .offCPU : .onCPU
        let profile = try loadProfile(path: input, weighting: weighting, splitByCPU: !filter.cpus.isEmpty).filtered(by: filter)
        try report.emit(profile, colour: isatty(1) != 0, callGraph: callGraph)
    }
}

/// Reads and symbolizes a recording (its header says what the recording left out).
func loadProfile(path: String, weighting: ProfileBuilder.Weighting = .onCPU,
                 splitByCPU: Bool = false) throws(PerchError) -> Profile {
    let file: PerfDataFile
    do {
        file = try PerfDataFile(path: path)
    } catch {
        throw .badInput("\(error)")
    }
    do {
        return try ProfileBuilder(file: file, symbolizer: DWARFSymbolizer(), weighting: weighting, splitByCPU: splitByCPU).build()
    } catch {
        throw .badInput("\(error)")
    }
}
