/// Small text helpers shared by every module that prints columns or parses /proc.
extension StringProtocol {
    /// The string without leading and trailing characters from `set`.
    public func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}

extension String {
    /// The string right-aligned in `width` columns, padded on the left with `pad`.
    public func alignedRight(_ width: Int, pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    /// The string left-aligned in `width` columns, padded on the right with spaces.
    public func alignedLeft(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
