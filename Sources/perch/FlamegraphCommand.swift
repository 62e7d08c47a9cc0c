import ArgumentParser
import ProfileModel
import Profiling
import ProfileImport
import Reporting

/// `perch flamegraph [FILE|-] -o out.svg`: an interactive SVG flame graph from folded stacks (as
/// `perch collapse`, `perch report --folded` or stackcollapse-*.pl write them) or from a recording.
struct FlamegraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flamegraph",
        abstract: "Draw an interactive SVG flame graph from folded stacks or a recording.",
        discussion: """
            The input is folded stacks (frame;frame;frame count per line; `-` or nothing for standard \
            input) or a perf.data file (recognized by its PERFILE2 magic). Hover a frame for its \
            samples, click to zoom, Ctrl-F to search.
            """
    )

    @Argument(help: "Folded stacks or perf.data (`-`: standard input).")
    var input: String = "-"

    @Option(name: [.short, .customLong("output")], help: "The SVG file to write (`-`: standard output).")
    var output: String = "-"

    @OptionGroup(title: "Flame graph") var flame: FlameGraphArguments

    @Flag(name: .customLong("pid"), help: "Recordings: root frames as comm-pid.")
    var pid = false

    @Flag(name: .customLong("tid"), help: "Recordings: root frames as comm-pid/tid.")
    var tid = false

    func run() throws {
        let graph: FlameGraph
        if input != "-", (try? readWholeFilePrefix(input, count: 8)) == Array("PERFILE2".utf8) {
            graph = FlameGraph(profile: try loadProfile(path: input), folded: FoldedOptions(includePid: pid, includeTid: tid), reverse: flame.reverse)
        } else {
            let bytes: [UInt8]
            do { bytes = try readWholeFile(input) } catch { throw PerchError.read(error) }
            if bytes.starts(with: "PERFILE2".utf8) { throw PerchError.badInput("give recordings as files, not on standard input") }
            do {
                graph = try FlameGraph(foldedText: bytes, reverse: flame.reverse)
            } catch {
                throw PerchError.badInput("\(input == "-" ? "standard input" : input): \(error)")
            }
        }
        if graph.saturated { warnSaturated() }
        let subtitle = flame.reverse ? "Reversed: merged by sampled frame" : nil
        do { try writeFile(output, FlameGraphSVG.bytes(graph, options: flame.options(defaultSubtitle: subtitle))) } catch { throw PerchError.write(error) }
    }
}

/// Input to `perch flamegraph` and `perch diff`.
enum StackInput {
    case profile(Profile)
    case folded([(stack: [String], count: UInt64)])
}

/// Reads a recording (PERFILE2 magic) or folded stacks.
func loadStacks(_ path: String) throws(PerchError) -> StackInput {
    if path != "-" {
        let magic = (try? readWholeFilePrefix(path, count: 8)) ?? []
        if magic == Array("PERFILE2".utf8) { return .profile(try loadProfile(path: path)) }
    }
    let bytes: [UInt8]
    do { bytes = try readWholeFile(path) } catch { throw .read(error) }
    if bytes.starts(with: "PERFILE2".utf8) { throw .badInput("\(path == "-" ? "standard input" : path): give recordings as files, not on standard input") }
    do {
        return .folded(try FoldedStacks.parse(String(decoding: bytes, as: UTF8.self)))
    } catch {
        throw .badInput("\(path == "-" ? "standard input" : path): \(error)")
    }
}


/// Says on standard error that counts summed past 2^64 (only corrupted or crafted input does).
func warnSaturated() {
    printError("perch: warning: the counts sum past 2^64; totals are saturated at \(UInt64.max)")
}
