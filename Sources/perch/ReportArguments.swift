import ArgumentParser
import Profiling
import Reporting

/// Report options shared by `perch record` and `perch report`.
struct ReportArguments: ParsableArguments {
    @Option(name: .long, help: "Sort keys, comma-separated: comm, pid, tid, dso, sym.")
    var sort: String = "comm,dso,sym"

    @Flag(name: .long, help: "Show inclusive (children) totals beside self overhead.")
    var children = false

    @Option(name: .long, help: "Hide entries below this percentage.")
    var percentLimit: Double = 0

    @Option(name: .long, help: "Also write folded stacks (frame;frame;frame count) to FILE.")
    var folded: String?

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @Flag(name: .long, help: "Print a per-thread breakdown after the report.")
    var threads = false

    @Flag(name: .long, help: "Accepted for perf compatibility; the text report is the default.")
    var stdio = false

    func options(colour: Bool, callGraph: Bool) throws -> ReportOptions {
        var keys: [SortKey] = []
        for name in sort.split(separator: ",") {
            guard let key = SortKey(rawValue: name.trimmed().lowercased()) else {
                throw ValidationError("unknown sort key '\(name)'; use comm, pid, tid, dso, sym")
            }
            keys.append(key)
        }
        var options = ReportOptions()
        options.sortKeys = keys
        options.children = children
        options.callGraph = callGraph
        options.percentLimit = percentLimit
        options.colour = colour
        return options
    }

    /// Prints the report (and writes the folded file) for `profile`.
    func emit(_ profile: Profile, colour: Bool, callGraph: Bool = false) throws {
        let options = try options(colour: colour && !json, callGraph: callGraph)
        if let folded {
            do {
                try writeFile(folded, FoldedWriter.write(profile, options: FoldedOptions()))
            } catch {
                fail("\(error)")
            }
        }
        if json {
            writeOut(TextReport.json(profile, options: options) + "\n")
        } else {
            writeOut(TextReport.render(profile, options: options))
            if threads { writeOut("\n" + TextReport.threadSummary(profile)) }
        }
    }
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
