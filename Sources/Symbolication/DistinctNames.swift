import Glibc

/// Gives each of many names a slot, names with the same bytes the same one: how a batch
/// demangles every distinct name once.
///
/// A flat open-addressing table sized once for the names to come, hashing eight bytes at a
/// time. A `Dictionary<String, Int>` spent longer hashing twenty thousand long mangled names
/// (SipHash, a byte at a time) than its callers spent on anything else between two parallel
/// phases.
struct DistinctNames {
    /// The distinct names, in the order first seen: slot `k` is `names[k]`.
    private(set) var names: [String] = []
    private var hashes: [UInt64] = []
    /// Per bucket: a slot, or -1 when the bucket is empty.
    private var buckets: [Int]
    private let mask: Int

    /// A table for up to `capacity` distinct names (more still work, only slower).
    init(capacity: Int) {
        var size = 16
        while size < capacity * 2, size < 1 << 40 { size <<= 1 }
        buckets = Array(repeating: -1, count: size)
        mask = size - 1
        names.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
    }

    /// The slot of `name`: a new one the first time it is seen.
    mutating func slot(of name: String) -> Int {
        var name = name
        return name.withUTF8 { slot(of: $0, hash: Self.hash($0)) }
    }

    /// The slot of the name with these bytes (their `hash(_:)` given): a new one, holding the
    /// name as a `String`, the first time they are seen.
    mutating func slot(of bytes: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int {
        if names.count * 2 >= buckets.count { grow() }
        var bucket = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = buckets[bucket]
            if slot < 0 {
                buckets[bucket] = names.count
                names.append(String(decoding: bytes, as: UTF8.self))
                hashes.append(hash)
                return names.count - 1
            }
            // Bytes, not `==`: canonically equivalent spellings are different mangled names.
            if hashes[slot] == hash, Self.equal(&names[slot], bytes) { return slot }
            bucket = (bucket + 1) & mask
        }
    }

    private static func equal(_ name: inout String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        name.withUTF8 { stored in
            stored.count == bytes.count && (bytes.isEmpty || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
    }

    private mutating func grow() {
        self = DistinctNames(rehashing: self)
    }

    private init(rehashing old: DistinctNames) {
        self.init(capacity: old.buckets.count)
        for (slot, hash) in old.hashes.enumerated() {
            var bucket = Int(truncatingIfNeeded: hash) & mask
            while buckets[bucket] >= 0 { bucket = (bucket + 1) & mask }
            buckets[bucket] = slot
        }
        names = old.names
        hashes = old.hashes
    }

    /// A multiply-rotate hash over eight bytes at a time (the rest byte by byte), mixed at the
    /// end so the low bits (the bucket) depend on every byte.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var hash = UInt64(bytes.count) &* multiplier
        guard let base = bytes.baseAddress else { return hash }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            hash = ((hash << 5) | (hash >> 59)) ^ word
            hash = hash &* multiplier
            offset += 8
        }
        while offset < bytes.count {
            hash = (((hash << 5) | (hash >> 59)) ^ UInt64(bytes[offset])) &* multiplier
            offset += 1
        }
        hash ^= hash >> 32
        hash = hash &* multiplier
        return hash ^ (hash >> 29)
    }
}
