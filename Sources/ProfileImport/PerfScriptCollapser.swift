import ProfileModel
import Reporting

/// Folds `perf script` text into folded stacks by the rules of `stackcollapse-perf.pl`, so that
/// `perch collapse` writes byte for byte what that script writes for the same input.
///
/// The rules, as that script applies them:
///
/// - Lines starting with `#` are comments. An empty line ends a sample: the process name is put
///   first and the stack is counted (with the sample's period, see below). Input that does not end
///   with an empty line loses its last sample, as it does there.
/// - A sample header is a line starting with a non-blank character, matched as
///   `COMM PID[/TID] ...` where COMM is the shortest prefix (at least two characters) followed by
///   blanks and a number. Without a `/TID` (or with TID `0`), the number is the TID and the PID is
///   `?`. The root frame is COMM, `COMM-PID` (`--pid`) or `COMM-PID/TID` (`--tid`), spaces as `_`.
/// - When the header ends with `: [PERIOD] EVENT:`, the period (default 1, also for `0`) is what the
///   sample counts, and only samples of one event are kept: the given filter, or else the first
///   event seen (a note is given when others are dropped).
/// - A frame line is `ADDR FUNC (MODULE)`: the last ` (` that has a `)` after it starts the module,
///   which ends at the last `)`. `+0x…` offsets are stripped; functions starting with `(` are
///   dropped. `a->b` (perf's inline chains) gives `a;b_[i]`.
/// - `[unknown]` functions become `[MODULE-BASENAME]`, or `[unknown]` when the module is unknown;
///   with `--addrs`, `[NAME <ADDR>]`.
/// - Names are tidied: `;` to `:`, everything from the first `(` on is cut (except
///   `(anonymous namespace)` and Go method names like `pkg.(*T).M`), quotes are removed, and for
///   processes named `java…`, a leading `L` is dropped from names with a `/`.
/// - `--kernel` appends `_[k]` for modules starting with `[` or ending in `vmlinux` (but not
///   `[unknown]`); `--jit` appends `_[j]` for `/tmp/perf-PID.map` modules; `--all` does both.
/// - With `--srcline`, each known frame's next line (`perf script -F+srcline`) is appended as
///   `:file:line` (bracketed parts removed).
/// - Output lines are sorted bytewise; equal stacks are summed.
public struct PerfScriptCollapser {
    /// Options beyond ``FoldedOptions`` (whose pid, tid, addrs, kernel and jit flags apply).
    public struct Options: Sendable, Equatable {
        public var folded: FoldedOptions
        /// Keep only samples of this event (`--event-filter`); nil: the first event seen.
        public var eventFilter: String?
        /// Input has source lines after frames (`perf script -F+srcline`); `--srcline`.
        public var sourceLines: Bool

        public init(folded: FoldedOptions = FoldedOptions(), eventFilter: String? = nil, sourceLines: Bool = false) {
            self.folded = folded
            self.eventFilter = eventFilter
            self.sourceLines = sourceLines
        }
    }

    /// The result of folding.
    public struct Result: Sendable {
        /// Sorted folded lines (without count) and their summed counts.
        public var stacks: [(stack: [UInt8], count: UInt64)]
        /// Lines that matched neither a header nor a frame, as `(line number, text)` (the first 20).
        public var unrecognized: [(line: Int, text: String)]
        /// How many lines were unrecognized in all.
        public var unrecognizedCount: Int
        /// Set when samples of other events were dropped: the event that was kept.
        public var filteredToEvent: String?

        /// The folded text, `stack count\n` per line.
        public var bytes: [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(stacks.reduce(0) { $0 + $1.stack.count + 12 })
            for (stack, count) in stacks {
                out.append(contentsOf: stack)
                out.append(UInt8(ascii: " "))
                appendDecimal(count, to: &out)
                out.append(10)
            }
            return out
        }

        public var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Folds `text`.
    public func collapse(_ text: String) -> Result {
        var copy = text
        return copy.withUTF8 { collapse(bytes: $0) }
    }

    /// Folds UTF-8 (or any ASCII-compatible) `perf script` output.
    public func collapse(bytes input: UnsafeBufferPointer<UInt8>) -> Result {
        var state = State(options: options)
        var start = 0
        let n = input.count
        var lineNumber = 0
        // Lines are handed out one at a time; `--srcline` may pull the next line early.
        func nextLine() -> UnsafeBufferPointer<UInt8>? {
            guard start < n else { return nil }
            var end = start
            while end < n && input[end] != 10 { end += 1 }
            let line = UnsafeBufferPointer(rebasing: input[start..<end])
            start = end + 1
            lineNumber += 1
            return line
        }
        while let line = nextLine() {
            state.process(line, lineNumber: lineNumber, nextLine: nextLine)
        }
        var stacks = state.collapsed.map { (stack: $0.key, count: $0.value) }
        stacks.sort { $0.stack.lexicographicallyPrecedes($1.stack) }
        return Result(
            stacks: stacks, unrecognized: state.unrecognized, unrecognizedCount: state.unrecognizedCount,
            filteredToEvent: state.droppedOtherEvents ? state.eventFilter : nil)
    }

    struct State {
        let options: Options
        var collapsed: [[UInt8]: UInt64] = [:]
        var stack: [[UInt8]] = []   // leaf last while reading, reversed at the end
        var pname: [UInt8]?
        var period: UInt64 = 1
        var eventFilter: String?
        var eventDefaulted = false
        var droppedOtherEvents = false
        var unrecognized: [(line: Int, text: String)] = []
        var unrecognizedCount = 0

        init(options: Options) {
            self.options = options
            eventFilter = options.eventFilter.flatMap { $0.isEmpty ? nil : $0 }
        }

        mutating func process(
            _ line: UnsafeBufferPointer<UInt8>, lineNumber: Int, nextLine: () -> UnsafeBufferPointer<UInt8>?
        ) {
            if line.first == UInt8(ascii: "#") { return }
            if line.isEmpty {
                guard let name = pname else { return }
                var key: [UInt8] = name
                // `stack` holds frames leaf-first groups appended in reading order; the root comes last.
                for frame in stack.reversed() {
                    key.append(UInt8(ascii: ";"))
                    key.append(contentsOf: frame)
                }
                collapsed[key, default: 0] = collapsed[key, default: 0].addingSaturated(period)
                stack.removeAll(keepingCapacity: true)
                pname = nil
                return
            }
            if let header = Self.matchHeader(line) {
                if let (event, periodText) = Self.matchEvent(line) {
                    if let filter = eventFilter {
                        if event != filter {
                            if eventDefaulted { droppedOtherEvents = true }
                            return
                        }
                    } else {
                        eventFilter = event
                        eventDefaulted = true
                    }
                    if let p = periodText, p != [UInt8(ascii: "0")] {
                        period = Self.decimal(p)
                    } else {
                        period = 1
                    }
                } else {
                    period = 1
                }
                var pid = header.pid, tid = header.tid
                if tid == nil || tid! == [UInt8(ascii: "0")] {
                    tid = pid
                    pid = [UInt8(ascii: "?")]
                }
                var name = header.comm
                if options.folded.includeTid {
                    name += [UInt8(ascii: "-")] + pid + [UInt8(ascii: "/")] + tid!
                } else if options.folded.includePid {
                    name += [UInt8(ascii: "-")] + pid
                }
                for i in name.indices where name[i] == UInt8(ascii: " ") { name[i] = UInt8(ascii: "_") }
                pname = name
                return
            }
            if let frame = Self.matchFrame(line) {
                guard let pname else { return }
                addFrame(frame, pname: pname, nextLine: nextLine)
                return
            }
            unrecognizedCount += 1
            if unrecognized.count < 20 { unrecognized.append((lineNumber, String(decoding: line, as: UTF8.self))) }
        }

        mutating func addFrame(
            _ frame: (pc: ArraySlice<UInt8>, function: ArraySlice<UInt8>, module: ArraySlice<UInt8>),
            pname: [UInt8], nextLine: () -> UnsafeBufferPointer<UInt8>?
        ) {
            var raw = frame.function
            Self.stripOffset(&raw)
            if raw.first == UInt8(ascii: "(") { return }
            let module = frame.module
            let isJava = pname.starts(with: "java".utf8)
            var group: [[UInt8]] = []
            var isUnknown = false
            for piece in Self.splitArrows(raw) {
                var function = Array(piece)
                if function == Array("[unknown]".utf8) {
                    var base: [UInt8]
                    if !module.elementsEqual("[unknown]".utf8) {
                        base = Array(module)
                        if let slash = base.lastIndex(of: UInt8(ascii: "/")) { base = Array(base[(slash + 1)...]) }
                    } else {
                        base = Array("unknown".utf8)
                        isUnknown = true
                    }
                    function = [UInt8(ascii: "[")] + base
                    if options.folded.addresses { function += Array(" <".utf8) + frame.pc + [UInt8(ascii: ">")] }
                    function.append(UInt8(ascii: "]"))
                }
                Self.tidy(&function)
                if isJava, function.contains(UInt8(ascii: "/")), function.first == UInt8(ascii: "L") {
                    function.removeFirst()
                }
                if !group.isEmpty {
                    if !Self.contains(function, "_[i]") { function += Array("_[i]".utf8) }
                } else if options.folded.annotateKernel, Self.isKernelModule(module) {
                    function += Array("_[k]".utf8)
                } else if options.folded.annotateJIT, Self.isJITModule(module) {
                    if !Self.contains(function, "_[j]") { function += Array("_[j]".utf8) }
                }
                if options.sourceLines && !isUnknown {
                    if let next = nextLine() {
                        let source = Self.tidySourceLine(next)
                        if !source.isEmpty { function += [UInt8(ascii: ":")] + source }
                    }
                }
                group.append(function)
            }
            // perf prints the leaf first; each line's group goes in front of what was read before.
            for function in group.reversed() { stack.append(function) }
        }
    }
}

/// Appends `value` in decimal.
func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    if value == 0 { out.append(48); return }
    var digits: [UInt8] = []
    var v = value
    while v > 0 { digits.append(UInt8(v % 10) + 48); v /= 10 }
    out.append(contentsOf: digits.reversed())
}
