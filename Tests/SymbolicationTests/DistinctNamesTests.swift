import Testing
@testable import Symbolication

@Suite("DistinctNames")
struct DistinctNamesTests {
    /// Names with the same bytes share a slot and others never do, in first-seen order, also
    /// past the capacity the table was made for (it grows), for names that differ only in a
    /// byte past the last whole eight-byte word or only in length, and for two spellings of
    /// one character (`==` says they are equal; as mangled names they are not).
    @Test func equalNamesShareASlotAndOthersNever() {
        var names: [String] = []
        for index in 0..<3000 {
            names.append("$s5perch7Command\(index % 1200)V3runyyKF")
            names.append(String(repeating: "x", count: index % 40))
        }
        names += ["abcdefgh1", "abcdefgh2", "abcdefgh", "abcdefgh\0", "é", "e\u{301}"]
        var table = DistinctNames(capacity: 100)
        let slots = names.map { table.slot(of: $0) }
        var expected: [[UInt8]: Int] = [:]
        var order: [[UInt8]] = []
        for name in names where expected[Array(name.utf8)] == nil {
            expected[Array(name.utf8)] = order.count
            order.append(Array(name.utf8))
        }
        #expect(order.count == 1200 + 40 + 6)
        #expect(slots == names.map { expected[Array($0.utf8)]! })
        #expect(table.names.map { Array($0.utf8) } == order)
    }

    /// The hash reads every byte: names that differ in any one byte hash apart.
    @Test func everyByteChangesTheHash() {
        let base = Array("$s13Symbolication15DWARFSymbolizerC6frames".utf8)
        let original = base.withUnsafeBufferPointer(DistinctNames.hash)
        for position in base.indices {
            var changed = base
            changed[position] ^= 1
            #expect(changed.withUnsafeBufferPointer(DistinctNames.hash) != original, "byte \(position)")
        }
    }
}
