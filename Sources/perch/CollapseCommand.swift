import ArgumentParser
import ProfileImport
import Reporting

/// `perch collapse [FILE|-]`: `perf script` text to folded stacks, by stackcollapse-perf.pl's rules.
struct CollapseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collapse",
        abstract: "Fold `perf script` output into folded stacks, as stackcollapse-perf.pl does.",
        discussion: """
            Reads the text `perf script` prints (from perf or any tool that copies its format) and \
            writes one `frame;frame;frame count` line per distinct stack, sorted, byte for byte as \
            stackcollapse-perf.pl writes them: counts are the samples' periods when the headers \
            show them, and only the first event's samples are kept unless --event-filter says which.
            """
    )

    @Argument(help: "`perf script` output (`-` or nothing: standard input).")
    var input: String = "-"

    @Option(name: [.short, .customLong("output")], help: "Where to write the folded stacks (`-`: standard output).")
    var output: String = "-"

    @Flag(name: .customLong("pid"), help: "Include the PID with process names (comm-pid).")
    var pid = false

    @Flag(name: .customLong("tid"), help: "Include the PID and TID with process names (comm-pid/tid).")
    var tid = false

    @OptionGroup(title: "Annotations") var annotations: FoldedAnnotationArguments

    @Option(name: .customLong("event-filter"), help: "Keep only samples of this event (default: the first event seen).")
    var eventFilter: String?

    @Flag(name: .customLong("srcline"), help: "The input has source lines after frames (perf script -F+srcline).")
    var srcline = false

    func run() throws {
        let bytes: [UInt8]
        do { bytes = try readWholeFile(input) } catch { throw PerchError.read(error) }
        var folded = annotations.options(pid: pid, tid: tid)
        folded.annotateInlined = false
        let collapser = PerfScriptCollapser(options: .init(folded: folded, eventFilter: eventFilter, sourceLines: srcline))
        let result = bytes.withUnsafeBufferPointer { collapser.collapse(bytes: $0) }
        for (line, text) in result.unrecognized { printError("perch: warning: line \(line): unrecognized line: \(text)") }
        if result.unrecognizedCount > result.unrecognized.count {
            printError("perch: warning: \(result.unrecognizedCount - result.unrecognized.count) more unrecognized lines")
        }
        if let event = result.filteredToEvent { printError("perch: note: filtering for events of type: \(event)") }
        do { try writeFile(output, result.bytes) } catch { throw PerchError.write(error) }
    }
}
