/// Minimal JSON value encoding for the reporters (no Foundation needed).
public enum JSON {
    /// A JSON string literal with `"`, `\` and control characters escaped.
    public static func string(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func string(_ s: String?) -> String { s.map { string($0) } ?? "null" }

    static func number<T: BinaryInteger>(_ n: T?) -> String { n.map { "\($0)" } ?? "null" }

    /// A finite double (non-finite values become 0).
    static func number(_ d: Double) -> String { d.isFinite ? "\(d)" : "0" }

    /// An object from already-encoded values, keys in the given order.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }
}
