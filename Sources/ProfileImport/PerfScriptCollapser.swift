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

    private struct State {
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
                collapsed[key, default: 0] &+= period
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

        // MARK: Matching

        static func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
        static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        static func isWord(_ c: UInt8) -> Bool {
            isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
        }

        /// `^(\S.+?)\s+(\d+)\/*(\d+)*\s+`.
        static func matchHeader(_ line: UnsafeBufferPointer<UInt8>) -> (comm: [UInt8], pid: [UInt8], tid: [UInt8]?)? {
            let n = line.count
            guard n >= 2, !isSpace(line[0]) else { return nil }
            var k = 2
            while k < n {
                if isSpace(line[k]) && (k == 2 || !isSpace(line[k - 1])) {
                    var q = k
                    while q < n && isSpace(line[q]) { q += 1 }
                    let digitsStart = q
                    while q < n && isDigit(line[q]) { q += 1 }
                    if q > digitsStart {
                        let pid = Array(line[digitsStart..<q])
                        var r = q
                        while r < n && line[r] == UInt8(ascii: "/") { r += 1 }
                        let tidStart = r
                        while r < n && isDigit(line[r]) { r += 1 }
                        if r < n && isSpace(line[r]) {
                            let tid = r > tidStart ? Array(line[tidStart..<r]) : nil
                            return (Array(line[0..<k]), pid, tid)
                        }
                    }
                }
                k += 1
            }
            return nil
        }

        /// `:\s*(\d+)*\s+(\S+):\s*$`: the event name and the period, if any.
        static func matchEvent(_ line: UnsafeBufferPointer<UInt8>) -> (event: String, period: [UInt8]?)? {
            var end = line.count
            while end > 0 && isSpace(line[end - 1]) { end -= 1 }
            guard end > 0, line[end - 1] == UInt8(ascii: ":") else { return nil }
            var tokenStart = end - 1
            while tokenStart > 0 && !isSpace(line[tokenStart - 1]) { tokenStart -= 1 }
            guard tokenStart < end - 1, tokenStart > 0 else { return nil }
            let event = String(decoding: line[tokenStart..<(end - 1)], as: UTF8.self)
            var p = tokenStart
            while p > 0 && isSpace(line[p - 1]) { p -= 1 }
            guard p > 0 else { return nil }
            if line[p - 1] == UInt8(ascii: ":") { return (event, nil) }
            guard isDigit(line[p - 1]) else { return nil }
            let digitsEnd = p
            while p > 0 && isDigit(line[p - 1]) { p -= 1 }
            let digits = Array(line[p..<digitsEnd])
            while p > 0 && isSpace(line[p - 1]) { p -= 1 }
            guard p > 0, line[p - 1] == UInt8(ascii: ":") else { return nil }
            return (event, digits)
        }

        /// `^\s*(\w+)\s*(.+) \((.*)\)`.
        static func matchFrame(_ line: UnsafeBufferPointer<UInt8>) -> (pc: ArraySlice<UInt8>, function: ArraySlice<UInt8>, module: ArraySlice<UInt8>)? {
            let bytes = Array(line)
            let n = bytes.count
            var p = 0
            while p < n && isSpace(bytes[p]) { p += 1 }
            var w = p
            while w < n && isWord(bytes[w]) { w += 1 }
            guard w > p, let lastParen = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
            var s = w
            while s < n && isSpace(bytes[s]) { s += 1 }
            // The rightmost " (" with a ")" after its "(".
            var j = lastParen - 2
            while j >= 0 && !(bytes[j] == UInt8(ascii: " ") && bytes[j + 1] == UInt8(ascii: "(")) { j -= 1 }
            let start = min(s, j - 1)
            guard j >= 0, start >= p + 1 else { return nil }
            return (bytes[p..<min(start, w)], bytes[start..<j], bytes[(j + 2)..<lastParen])
        }

        /// `s/\+0x[\da-f]+$//`.
        static func stripOffset(_ s: inout ArraySlice<UInt8>) {
            var i = s.endIndex
            while i > s.startIndex && (isDigit(s[i - 1]) || (s[i - 1] >= 97 && s[i - 1] <= 102)) { i -= 1 }
            guard i < s.endIndex, i - s.startIndex >= 3,
                  s[i - 1] == UInt8(ascii: "x"), s[i - 2] == UInt8(ascii: "0"), s[i - 3] == UInt8(ascii: "+")
            else { return }
            s = s[s.startIndex..<(i - 3)]
        }

        /// Perl's `split /->/`: trailing empty fields dropped; nothing for an empty string.
        static func splitArrows(_ s: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
            var parts: [ArraySlice<UInt8>] = []
            var fieldStart = s.startIndex
            var i = s.startIndex
            while i + 1 < s.endIndex {
                if s[i] == UInt8(ascii: "-") && s[i + 1] == UInt8(ascii: ">") {
                    parts.append(s[fieldStart..<i])
                    i += 2
                    fieldStart = i
                } else {
                    i += 1
                }
            }
            parts.append(s[fieldStart..<s.endIndex])
            while let last = parts.last, last.isEmpty { parts.removeLast() }
            return parts
        }

        static func contains(_ s: [UInt8], _ needle: String) -> Bool {
            let n = Array(needle.utf8)
            guard s.count >= n.count else { return false }
            for i in 0...(s.count - n.count) where s[i] == n[0] && s[i..<(i + n.count)].elementsEqual(n) { return true }
            return false
        }

        /// `;` to `:`, cut from the first `(` (not `(anonymous namespace)`) unless Go-like, drop quotes.
        static func tidy(_ f: inout [UInt8]) {
            for i in f.indices where f[i] == UInt8(ascii: ";") { f[i] = UInt8(ascii: ":") }
            if !isGoMethod(f) {
                let anonymous = Array("anonymous namespace)".utf8)
                var i = 0
                while i < f.count {
                    if f[i] == UInt8(ascii: "(") && !f[(i + 1)...].starts(with: anonymous) {
                        f.removeSubrange(i...)
                        break
                    }
                    i += 1
                }
            }
            f.removeAll { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") }
        }

        /// `m/\.\(.*\)\./`.
        static func isGoMethod(_ f: [UInt8]) -> Bool {
            guard f.count >= 4 else { return false }
            var open = -1
            for i in 0..<(f.count - 1) where f[i] == UInt8(ascii: ".") && f[i + 1] == UInt8(ascii: "(") { open = i; break }
            guard open >= 0 else { return false }
            var i = f.count - 2
            while i >= open + 2 {
                if f[i] == UInt8(ascii: ")") && f[i + 1] == UInt8(ascii: ".") { return true }
                i -= 1
            }
            return false
        }

        /// `m/(^\[|vmlinux$)/ && !m/unknown/`.
        static func isKernelModule(_ m: ArraySlice<UInt8>) -> Bool {
            guard m.first == UInt8(ascii: "[") || m.reversed().starts(with: "xunilmv".utf8) else { return false }
            return !contains(Array(m), "unknown")
        }

        /// `m:/tmp/perf-\d+\.map:`.
        static func isJITModule(_ m: ArraySlice<UInt8>) -> Bool {
            let bytes = Array(m)
            let prefix = Array("/tmp/perf-".utf8)
            guard bytes.count > prefix.count + 4 else { return false }
            for i in 0...(bytes.count - prefix.count) where bytes[i...].starts(with: prefix) {
                var j = i + prefix.count
                let digits = j
                while j < bytes.count && isDigit(bytes[j]) { j += 1 }
                if j > digits && bytes[j...].starts(with: ".map".utf8) { return true }
            }
            return false
        }

        /// A `-F+srcline` line: bracketed parts removed, trimmed.
        static func tidySourceLine(_ line: UnsafeBufferPointer<UInt8>) -> [UInt8] {
            var out: [UInt8] = []
            var i = 0
            while i < line.count {
                if line[i] == UInt8(ascii: "[") {
                    var j = i + 1
                    while j < line.count && line[j] != UInt8(ascii: "]") { j += 1 }
                    if j < line.count { i = j + 1; continue }
                }
                out.append(line[i])
                i += 1
            }
            while let f = out.first, isSpace(f) { out.removeFirst() }
            while let l = out.last, isSpace(l) { out.removeLast() }
            return out
        }

        static func decimal(_ digits: [UInt8]) -> UInt64 {
            var v: UInt64 = 0
            for d in digits { v = v &* 10 &+ UInt64(d - 48) }
            return v
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
