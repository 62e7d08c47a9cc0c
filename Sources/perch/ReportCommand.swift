import ArgumentParser
import PerfRecords
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

    func run() throws {
        let profile = loadProfile(path: input)
        try report.emit(profile, colour: isatty(1) != 0, callGraph: callGraph)
    }
}

/// Reads and symbolizes a recording, or exits with a one-line error.
func loadProfile(path: String, extraNotes: [String] = []) -> Profile {
    let file: PerfDataFile
    do {
        file = try PerfDataFile(path: path)
    } catch {
        fail("\(error)")
    }
    do {
        var profile = try ProfileBuilder(file: file, symbolizer: DWARFSymbolizer()).build()
        if extraNotes.contains(where: { $0.hasPrefix("kernel frames left out") }) {
            profile.summary.notes.removeAll { $0.hasPrefix("kernel code was not sampled") }  // said better below
        }
        for note in extraNotes where !profile.summary.notes.contains(note) { profile.summary.notes.append(note) }
        return profile
    } catch {
        fail("\(error)")
    }
}
