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
/// `stackcollapse-*.pl`, for `perch flamegraph`.
public enum FoldedStacks {
    /// Parses `text`, one stack per line, in input order (duplicates are not merged).
    ///
    /// The count is the last whitespace-separated field and must be an unsigned integer; frames are
    /// separated by `;` and may contain spaces. Blank lines are skipped; a trailing `\r` is ignored.
    /// - Throws: ``FoldedStacksError`` naming the first bad line (no count, a bad count, or no stack).
    public static func parse(_ text: String) throws(FoldedStacksError) -> [(stack: [String], count: UInt64)] {
        var result: [(stack: [String], count: UInt64)] = []
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = rawLine
            while let last = line.last, last == " " || last == "\t" || last == "\r" { line.removeLast() }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            guard let space = line.lastIndex(where: { $0 == " " || $0 == "\t" }) else {
                throw FoldedStacksError(line: lineNumber, reason: "missing sample count")
            }
            let countText = line[line.index(after: space)...]
            guard countText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let count = UInt64(countText)
            else {
                throw FoldedStacksError(line: lineNumber, reason: "invalid sample count '\(countText)'")
            }
            var stackText = line[..<space]
            while let last = stackText.last, last == " " || last == "\t" { stackText.removeLast() }
            guard !stackText.isEmpty else {
                throw FoldedStacksError(line: lineNumber, reason: "empty stack")
            }
            let frames = stackText.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            result.append((frames, count))
        }
        return result
    }
}
