import ArgumentParser
import Profiling
import ProfileImport
import ProfileModel
import Reporting

/// `perch diff BEFORE AFTER -o diff.svg`: a differential flame graph.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Draw a differential flame graph: red where AFTER grew, blue where it shrank.",
        discussion: """
            BEFORE and AFTER are recordings (perf.data) or folded stacks, in any mix. Frames are \
            drawn with AFTER's samples; their colour is the change from BEFORE once BEFORE's counts \
            are scaled to AFTER's total (as difffolded.pl -n does), so recordings of different \
            lengths compare fairly.
            """
    )

    @Argument(help: "The baseline: perf.data or folded stacks.")
    var before: String

    @Argument(help: "The profile to compare: perf.data or folded stacks.")
    var after: String

    @Option(name: [.short, .customLong("output")], help: "The SVG file to write (`-`: standard output).")
    var output: String = "-"

    @OptionGroup(title: "Flame graph") var flame: FlameGraphArguments

    @Flag(name: .customLong("pid"), help: "Recordings: root frames as comm-pid.")
    var pid = false

    func validate() throws {
        if before == "-" && after == "-" { throw ValidationError("only one input can be standard input") }
    }

    func run() throws {
        let options = FoldedOptions(includePid: pid)
        func stacks(_ input: StackInput) -> [(stack: [String], count: UInt64)] {
            switch input {
            case .profile(let profile): return FlameGraph.foldedStacks(profile, options: options)
            case .folded(let stacks): return stacks
            }
        }
        let b = stacks(try loadStacks(before)), a = stacks(try loadStacks(after))
        let graph = FlameGraph(before: b, after: a, reverse: flame.reverse)
        let totalBefore = b.reduce(UInt64(0)) { $0.addingSaturated($1.count) }
        let totalAfter = a.reduce(UInt64(0)) { $0.addingSaturated($1.count) }
        if graph.saturated { warnSaturated() }
        var opts = flame.options(defaultSubtitle: "\(before) (\(totalBefore) samples) → \(after) (\(totalAfter) samples); red: grew, blue: shrank")
        if flame.title == nil { opts.title = "Differential Flame Graph" }
        do { try writeFile(output, FlameGraphSVG.bytes(graph, options: opts)) } catch { throw PerchError.write(error) }
    }
}
