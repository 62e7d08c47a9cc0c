/// Recognising `perf script` lines (sample headers, their event and period, frame lines) as
/// stackcollapse-perf.pl's regular expressions do.
extension PerfScriptCollapser.State {
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

    static func decimal(_ digits: [UInt8]) -> UInt64 {
        var v: UInt64 = 0
        for d in digits { v = v &* 10 &+ UInt64(d - 48) }
        return v
    }
}
