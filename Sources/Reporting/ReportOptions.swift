import ProfileModel

/// A key that splits report entries, as in `perf report --sort`.
///
/// Entries are the distinct tuples of the selected keys; keys not selected are merged.
public enum SortKey: String, CaseIterable, Sendable, Hashable {
    /// The thread's command name.
    case comm
    /// The process id.
    case pid
    /// The thread id.
    case tid
    /// The shared object of the frame.
    case dso
    /// The symbol of the frame (together with its kind: `[.]`, `[k]`, `[j]`, `[i]`).
    case sym
}

/// How `perf report -g` draws each entry's call chains.
public enum CallGraphLayout: String, Sendable, CaseIterable {
    /// A tree; percentages of the report's total (perf's default).
    case graph
    /// A tree; each branch's percentage is of its parent's.
    case fractal
    /// Each distinct chain on lines of its own, with its percentage of the total.
    case flat
    /// Each distinct chain on one line, frames joined by `;`, with its percentage of the total.
    case folded
}

/// Which end of the call chains the graph starts from (perf report's `-g caller|callee`).
public enum CallGraphOrder: String, Sendable, CaseIterable {
    /// From the entry's function to its callers (perf's default without --children).
    case callee
    /// From the outermost caller (`main`, `_start`) down to the entry's function.
    case caller
}

/// Options for ``TextReport``.
public struct ReportOptions: Sendable, Equatable {
    /// Which keys make up an entry, in column order. Duplicates are ignored. Default `comm,dso,sym` like perf.
    public var sortKeys: [SortKey]
    /// Like `perf report --children`: add an inclusive "Children" column before "Self" and sort by it.
    public var children: Bool
    /// Like `perf report -g`: print a caller tree beneath each entry.
    public var callGraph: Bool
    /// Hide entries (and call-graph branches) whose percentage of the total is below this, in percent.
    public var percentLimit: Double
    /// Percentages by period weight (``StackSample/weight``) rather than sample count. Default true, like perf.
    public var useWeight: Bool
    /// Append ` file:line` to symbols that have a ``Frame/sourceLine``.
    ///
    /// The source line then becomes part of the symbol's identity (like perf's `srcline` key), so one
    /// function sampled at several lines yields several entries.
    public var showSourceLine: Bool
    /// Colour percentages with ANSI escapes (red >= 5%, green >= 0.5%), as perf does on a terminal.
    public var colour: Bool
    /// How many frames below an entry the call graph follows (at least 1).
    public var callGraphDepth: Int
    /// Hide call-graph branches below this percentage of their entry's own total, like the threshold
    /// of perf's default `-g graph,0.5`; this keeps graphs readable and output bounded. 0 shows all.
    public var callGraphPercentLimit: Double
    /// How the call graph is drawn (with ``callGraph``).
    public var callGraphLayout: CallGraphLayout = .graph
    /// Which end of the chains the call graph starts from.
    public var callGraphOrder: CallGraphOrder = .callee
    /// Like `perf report -n`: a `Samples` column (sample counts) beside the overhead.
    public var showSampleCount = false
    /// The `#` lines (the header, notes and column titles); `perf report -q` leaves them out.
    public var showHeader = true

    /// Creates report options; every parameter defaults to perf's behaviour.
    public init(
        sortKeys: [SortKey] = [.comm, .dso, .sym],
        children: Bool = false,
        callGraph: Bool = false,
        percentLimit: Double = 0,
        useWeight: Bool = true,
        showSourceLine: Bool = false,
        colour: Bool = false,
        callGraphDepth: Int = 64,
        callGraphPercentLimit: Double = 0.5
    ) {
        self.sortKeys = sortKeys
        self.children = children
        self.callGraph = callGraph
        self.percentLimit = percentLimit
        self.useWeight = useWeight
        self.showSourceLine = showSourceLine
        self.colour = colour
        self.callGraphDepth = callGraphDepth
        self.callGraphPercentLimit = callGraphPercentLimit
    }

    /// ``sortKeys`` without duplicates, first occurrence kept.
    var effectiveKeys: [SortKey] {
        var seen = Set<SortKey>()
        return sortKeys.filter { seen.insert($0).inserted }
    }
}
