/// A growing UTF-8 buffer for the SVG.
struct SVGBuffer {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1 << 16) }

    mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// XML-escaped text or attribute content.
    mutating func appendEscaped(_ s: String) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): bytes.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): bytes.append(contentsOf: "&apos;".utf8)
            case 0..<0x20 where b != 9 && b != 10 && b != 13: bytes.append(UInt8(ascii: "?"))
            default: bytes.append(b)
            }
        }
    }
}
