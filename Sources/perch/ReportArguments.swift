import ArgumentParser
import ProfileModel
import Profiling
import Reporting
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// Folded-stack options (stackcollapse-perf.pl's annotations and `--addrs`), shared by the report
/// outputs. The process-name flags differ per command (`perch record` has its own `--pid`).
struct FoldedAnnotationArguments: ParsableArguments {
    @Flag(name: .customLong("addrs"), help: "Folded: unknown symbols as [module <address>].")
    var addresses = false

    @Flag(name: .customLong("kernel"), help: "Folded: annotate kernel frames with _[k].")
    var kernel = false

    @Flag(name: .customLong("jit"), help: "Folded: annotate JIT frames with _[j].")
    var jit = false

    @Flag(name: .customLong("all"), help: "Folded: all annotations (_[k], _[j], _[i]).")
    var all = false

    func options(pid: Bool, tid: Bool) -> FoldedOptions {
        FoldedOptions(
            includePid: pid, includeTid: tid, addresses: addresses,
            annotateKernel: kernel || all, annotateJIT: jit || all, annotateInlined: all)
    }
}

/// Flame graph drawing options, shared by `perch report`, `perch record`, `perch flamegraph` and
/// `perch diff` (flamegraph.pl's names).
struct FlameGraphArguments: ParsableArguments {
    @Option(name: .long, help: "Flame graph title (default \"Flame Graph\", or \"Icicle Graph\" with --inverted).")
    var title: String?

    @Option(name: .long, help: "Flame graph subtitle.")
    var subtitle: String?

    @Option(name: .long, help: "Flame graph width in pixels.")
    var width = FlameWidth(1200)

    @Option(name: .customLong("minwidth"), help: "Leave out flame graph frames narrower than this many pixels.")
    var minWidth = MinimumWidth(0.1)

    @Option(name: [.customLong("palette"), .customLong("colors")], help: "Flame graph colours: hot, mem, io, or kind (kernel, native, Swift, C++, JIT, inlined).")
    var palette: FlamePalette = .hot

    @Flag(name: .long, help: "Flame graph merged by leaf: stacks reversed, the sampled frame at the root.")
    var reverse = false

    @Flag(name: .long, help: "Icicle graph: the root at the top.")
    var inverted = false

    func options(defaultSubtitle: String? = nil) -> FlameGraphOptions {
        FlameGraphOptions(
            title: title, subtitle: subtitle ?? defaultSubtitle, width: width.value, minWidth: minWidth.value,
            palette: palette, inverted: inverted)
    }
}

/// What `perch report` asks of the text report beyond the options it shares with `perch record`
/// (whose `-n`, `-q` and `-g` mean other things, as in perf).
struct ReportView {
    /// `-g`/`--call-graph`: nil draws no call graph.
    var callGraph: CallGraphRequest?
    /// `-n`: a Samples column.
    var showSampleCount = false
    /// Without `-q`: the `#` lines.
    var showHeader = true
}

/// Report options shared by `perch record` and `perch report`.
struct ReportArguments: ParsableArguments {
    @Option(name: [.customShort("s"), .long], help: "Sort keys, comma-separated: comm, pid, tid, dso, sym (perf's symbol, thread and overhead are understood). Default comm,dso,sym as perf's; perf's other keys (srcline, parent, ...) are not; --srcline splits by file:line.")
    var sort = SortKeyList([.comm, .dso, .sym])

    @Flag(inversion: .prefixedNo, help: "Show inclusive (children) totals beside self overhead. Unlike perf, whose default is --children, Perch's default is --no-children: the flat self profile.")
    var children = false

    @Option(name: .long, help: "Hide entries below this percentage.")
    var percentLimit = Percentage(0)

    @Flag(name: .long, help: "Show file:line of each symbol (from DWARF) and split entries by it.")
    var srcline = false

    @Flag(inversion: .prefixedNo, help: "Inlined functions as frames of their own ([i], the default), or folded into the functions they were inlined into (--no-inline, perf's flat profile).")
    var inline = true

    @Option(name: .long, help: "Also write folded stacks (frame;frame;frame count) to FILE.")
    var folded: String?

    @Option(name: .long, help: "Also write an interactive SVG flame graph to FILE.")
    var flamegraph: String?

    @Option(name: .long, help: "Also write the profile in speedscope's JSON format to FILE.")
    var speedscope: String?

    @Option(name: .long, help: "Also write the profile as gzipped pprof profile.proto to FILE.")
    var pprof: String?

    @Flag(name: .customLong("folded-pid"), help: "Folded and flame graph: root frames as comm-pid.")
    var foldedPid = false

    @Flag(name: .customLong("folded-tid"), help: "Folded and flame graph: root frames as comm-pid/tid.")
    var foldedTid = false

    @OptionGroup(title: "Folded stacks") var annotations: FoldedAnnotationArguments

    @OptionGroup(title: "Flame graph") var flame: FlameGraphArguments

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @Flag(name: .long, help: "Print a per-thread breakdown after the report.")
    var threads = false

    @Flag(name: .long, help: "Print a per-process breakdown after the report.")
    var processes = false

    @Flag(name: .long, help: "perf's --stdio, accepted: the text report is Perch's only mode (no --tui).")
    var stdio = false

    @Flag(name: .customLong("no-color"), help: "Never colour percentages (they are coloured when stdout is a terminal).")
    var noColour = false

    func options(colour: Bool, view: ReportView) -> ReportOptions {
        var options = ReportOptions()
        options.sortKeys = sort.keys
        options.children = children
        if let request = view.callGraph, let layout = request.layout {
            options.callGraph = true
            options.callGraphLayout = layout
            options.callGraphOrder = request.order ?? .callee
            if let limit = request.percentLimit { options.callGraphPercentLimit = limit }
        }
        options.showSampleCount = view.showSampleCount
        options.showHeader = view.showHeader
        options.percentLimit = percentLimit.value
        options.showSourceLine = srcline
        options.colour = colour && !noColour && getenv("NO_COLOR") == nil
        return options
    }

    var foldedOptions: FoldedOptions { annotations.options(pid: foldedPid, tid: foldedTid) }

    /// The files asked for (`-` is standard output).
    var outputPaths: [String] { [folded, flamegraph, speedscope, pprof].compactMap { $0 } }

    /// Whether any output file was asked for.
    var writesFiles: Bool { folded != nil || flamegraph != nil || speedscope != nil || pprof != nil }

    /// Writes the folded, flame graph, speedscope and pprof files that were asked for.
    /// The profile as these options show it (inlined functions folded with --no-inline).
    func shown(_ profile: Profile) -> Profile {
        inline ? profile : profile.foldingInlinedFrames()
    }

    func writeFiles(_ profile: Profile) throws(WriteError) {
        let profile = shown(profile)
        if let folded {
            try writeFile(folded, FoldedWriter.bytes(profile, options: foldedOptions))
        }
        if let flamegraph {
            let graph = FlameGraph(profile: profile, folded: foldedOptions, reverse: flame.reverse)
            let subtitle = flame.reverse ? "Reversed: merged by sampled frame" : nil
            try writeFile(flamegraph, FlameGraphSVG.bytes(graph, options: flame.options(defaultSubtitle: subtitle)))
        }
        if let speedscope {
            try writeFile(speedscope, SpeedscopeWriter.write(profile))
        }
        if let pprof {
            try writeFile(pprof, PprofWriter.write(profile))
        }
    }

    /// Prints the report (and writes the requested files) for `profile`.
    /// Prints the report (and writes the requested files) to `descriptor`, standard output unless
    /// told otherwise.
    func emit(_ profile: Profile, colour: Bool, view: ReportView = ReportView(), writingFiles: Bool = true,
              to descriptor: Int32 = 1) throws(WriteError) {
        let profile = shown(profile)
        let options = options(colour: colour && !json, view: view)
        if writingFiles { try writeFiles(profile) }
        if json {
            try writeText(TextReport.json(profile, options: options) + "\n", to: descriptor)
        } else {
            try writeText(TextReport.render(profile, options: options), to: descriptor)
            // -q: the breakdowns' rows alone too, without their '#' lines.
            func rows(_ text: String) -> String {
                guard !view.showHeader else { return text }
                return text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("#") }.joined(separator: "\n")
            }
            if threads { try writeText("\n" + rows(TextReport.threadSummary(profile)), to: descriptor) }
            if processes { try writeText("\n" + rows(TextReport.processSummary(profile)), to: descriptor) }
        }
    }
}

/// The most perch reads of one input (folded stacks, perf script text) into memory: a larger one
/// is refused with an error rather than read until memory runs out.
let inputSizeLimit = 4 << 30

/// Reads a whole input file (`-` for standard input), at most ``inputSizeLimit`` bytes.
/// Every caller reads text (folded stacks, perf script): a NUL byte (/dev/zero, a binary file)
/// is refused as soon as it is read.
func readWholeFile(_ path: String) throws(FileReadError) -> [UInt8] {
    if path == "-" { return try readAll(fd: 0, naming: path, limit: inputSizeLimit, text: true) }
    return try readFile(path: path, limit: inputSizeLimit, text: true)
}

extension StringProtocol {
    /// The string without leading and trailing whitespace.
    func trimmed() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}

/// The first `count` bytes of a file (fewer if it is shorter).
func readWholeFilePrefix(_ path: String, count: Int) throws(FileReadError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileReadError(path: path, cause: .system(.current)) }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: count)
    let n = (try? bytes.withUnsafeMutableBytes { buffer in try retryingInterrupted { read(fd, buffer.baseAddress, count) } }) ?? 0
    return Array(bytes[0..<n])
}
