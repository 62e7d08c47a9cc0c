/// An open-addressing map from a pair of 64-bit words to an `Int32`, hashed by multiplication.
///
/// The profile builder and the prefix tree look up every frame of every sample (locations, trie children) and
/// every sample's (thread, stack) pair; with `Dictionary` a third of that time went to
/// SipHash. Keys here are already well-mixed integers, so a multiplicative hash is enough.
///
/// Inlinable, as are ``PrefixTree`` and ``Interner``: the analysis calls them per frame from
/// another module, where a call that cannot be inlined or specialized costs more than the lookup.
@frozen @usableFromInline
package struct WordPairTable {
    @usableFromInline var first: [UInt64]
    @usableFromInline var second: [UInt64]
    /// -1 marks an empty slot.
    @usableFromInline var values: [Int32]
    @usableFromInline var mask: Int
    @usableFromInline package private(set) var count = 0

    @inlinable
    package init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        first = [UInt64](repeating: 0, count: size)
        second = [UInt64](repeating: 0, count: size)
        values = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inlinable @inline(__always)
    static func slot(_ a: UInt64, _ b: UInt64, mask: Int) -> Int {
        var hash = (a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xC2B2_AE3D_27D4_EB4F)
        hash ^= hash >> 31
        return Int(truncatingIfNeeded: hash) & mask
    }

    /// The value stored for (a, b).
    @inlinable @inline(__always)
    package func find(_ a: UInt64, _ b: UInt64) -> Int32? {
        var index = Self.slot(a, b, mask: mask)
        while true {
            let value = values[index]
            if value < 0 { return nil }
            if first[index] == a && second[index] == b { return value }
            index = (index + 1) & mask
        }
    }

    /// Stores `value` for (a, b), which must not be present yet.
    @inlinable
    package mutating func insert(_ a: UInt64, _ b: UInt64, value: Int32) {
        precondition(value >= 0)
        if (count + 1) * 2 > values.count { grow() }
        var index = Self.slot(a, b, mask: mask)
        while values[index] >= 0 { index = (index + 1) & mask }
        first[index] = a
        second[index] = b
        values[index] = value
        count += 1
    }

    /// Stores `value` for (a, b), replacing the value it had if present.
    @inlinable
    package mutating func set(_ a: UInt64, _ b: UInt64, value: Int32) {
        precondition(value >= 0)
        if (count + 1) * 2 > values.count { grow() }
        var index = Self.slot(a, b, mask: mask)
        while values[index] >= 0 {
            if first[index] == a && second[index] == b {
                values[index] = value
                return
            }
            index = (index + 1) & mask
        }
        first[index] = a
        second[index] = b
        values[index] = value
        count += 1
    }

    @inlinable
    mutating func grow() {
        var larger = WordPairTable(capacity: values.count)
        for index in values.indices where values[index] >= 0 {
            larger.insert(first[index], second[index], value: values[index])
        }
        self = larger
    }
}
