/// How stackcollapse-perf.pl tidies frames: offsets, inline arrows, cut and quoted names, kernel and JIT
/// modules, source lines.
extension PerfScriptCollapser.State {
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
}
