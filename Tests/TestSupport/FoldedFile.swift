import Foundation

/// A folded-stacks file (`perch report --folded`) as the tests read it.
public enum FoldedFile {
    /// Each line's stack (frames outermost first) and count; lines without a count are skipped.
    public static func stacks(at path: String) throws -> [(frames: [String], count: Int)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else { return nil }
            return (line[..<space].split(separator: ";").map(String.init), count)
        }
    }
}
