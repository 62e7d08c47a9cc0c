/// A malformed line in folded-stack input.
public struct FoldedStacksError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The 1-based line number.
    public var line: Int
    /// What is wrong with it.
    public var reason: String

    /// Creates an error for 1-based line `line`.
    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    /// `folded stacks: line N: reason`.
    public var description: String { "folded stacks: line \(line): \(reason)" }
}

/// Reads folded stacks (`frame;frame;leaf count`), as written by ``FoldedWriter`` or
/// `stackcollapse-*.pl`: the one parser behind `perch flamegraph` and `perch diff`.
///
/// The count is the last blank-separated field and must be an unsigned integer; frames are
/// separated by `;` and may contain spaces. Blank lines are skipped; trailing blanks and `\r`
/// are ignored. Lines with a zero count are skipped.
public enum FoldedStacks {
    /// Calls `body` with each line's frames (byte ranges of `bytes`, outermost first) and count,
    /// in input order, without building a string per frame.
    /// - Throws: ``FoldedStacksError`` naming the first bad line (no count, a bad count, or no
    ///   stack), or whatever `body` throws.
    public static func forEachStack<E: Error>(
        in bytes: [UInt8], _ body: (_ frames: [Range<Int>], _ count: UInt64) throws(E) -> Void
    ) throws(FoldedStacksParseFailure<E>) {
        var frames: [Range<Int>] = []
        var lineNumber = 0
        var start = 0
        let n = bytes.count
        func isBlank(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 13 }
        func fail(_ reason: String) -> FoldedStacksParseFailure<E> { .malformed(FoldedStacksError(line: lineNumber, reason: reason)) }
        while start < n {
            lineNumber += 1
            var end = start
            while end < n && bytes[end] != 10 { end += 1 }
            let next = end + 1
            var e = end
            while e > start && isBlank(bytes[e - 1]) { e -= 1 }
            defer { start = next }
            if e == start { continue }
            var space = e - 1
            while space >= start && !isBlank(bytes[space]) { space -= 1 }
            guard space >= start else { throw fail("missing sample count") }
            var count: UInt64 = 0
            for i in (space + 1)..<e {
                let d = bytes[i]
                let (m, o1) = count.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(d &- 48))
                guard d >= 48 && d <= 57, !o1, !o2 else {
                    throw fail("invalid sample count '\(String(decoding: bytes[(space + 1)..<e], as: UTF8.self))'")
                }
                count = a
            }
            var stackEnd = space
            while stackEnd > start && isBlank(bytes[stackEnd - 1]) { stackEnd -= 1 }
            guard stackEnd > start else { throw fail("empty stack") }
            guard count > 0 else { continue }
            frames.removeAll(keepingCapacity: true)
            var f = start
            while true {
                var g = f
                while g < stackEnd && bytes[g] != UInt8(ascii: ";") { g += 1 }
                frames.append(f..<g)
                if g >= stackEnd { break }
                f = g + 1
            }
            do { try body(frames, count) } catch { throw .body(error) }
        }
    }

    /// Every stack of `text`, in input order (duplicates are not merged).
    /// - Throws: ``FoldedStacksError`` naming the first bad line.
    public static func parse(_ text: String) throws(FoldedStacksError) -> [(stack: [String], count: UInt64)] {
        let bytes = Array(text.utf8)
        var result: [(stack: [String], count: UInt64)] = []
        do {
            try forEachStack(in: bytes) { (frames, count) throws(Never) in
                result.append((frames.map { String(decoding: bytes[$0], as: UTF8.self) }, count))
            }
        } catch {
            throw error.malformed
        }
        return result
    }
}

/// Why ``FoldedStacks/forEachStack(in:_:)`` stopped: a malformed line, or the caller's own error.
public enum FoldedStacksParseFailure<Body: Error>: Error {
    case malformed(FoldedStacksError)
    case body(Body)
}

extension FoldedStacksParseFailure where Body == Never {
    /// The malformed line (the only way a non-throwing body can stop the parse).
    public var malformed: FoldedStacksError {
        switch self {
        case .malformed(let error): return error
        case .body(let never): switch never {}
        }
    }
}
