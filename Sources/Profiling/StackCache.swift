import PerfABI
import ProfileModel

/// Trie nodes of stacks already resolved, by the sample's raw words: the process, the CPU mode,
/// the root and the kernel's call chain.
///
/// The samples of a busy program repeat a few chains; resolving one costs a mapping lookup, a
/// location lookup and a trie step per frame, a hit here one hash over the words. Only for stacks
/// that depend on nothing but those words (the kernel's chain as recorded: no unwinding from a
/// stack copy) and on the address spaces, which `invalidate()` marks as changed.
struct StackCache {
    private struct Entry {
        var start: Int
        var count: Int32
        var node: Int32
        var generation: UInt32
    }

    private var table = WordPairTable(capacity: 4096)
    /// Each entry's key words, back to back.
    private var words: [UInt64] = []
    private var entries: [Entry] = []
    /// Entries resolved under an older generation are resolved again before use.
    private var generation: UInt32 = 0
    /// Beyond this many key words (8 MiB) new stacks are resolved without being remembered.
    private static let wordLimit = 1 << 20

    /// Marks every entry stale: an address space changed (MMAP, exec, fork).
    mutating func invalidate() {
        generation &+= 1
    }

    /// What ``lookup(header:chain:)`` found.
    enum Lookup {
        /// The node resolved before, still valid.
        case hit(Int32)
        /// Resolve the stack, then hand the node to ``store(_:for:header:chain:)``.
        case miss(Miss)
    }

    /// Where a resolved node goes: a new entry, a stale entry to refresh, or nowhere (a different
    /// key with the same hash holds the slot).
    struct Miss {
        fileprivate enum Slot { case new(UInt64, UInt64), stale(Int), collision }
        fileprivate var slot: Slot
    }

    /// The cached node for the key `(header, chain)`, or where to store it once resolved.
    @inline(__always)
    func lookup(header: (UInt64, UInt64, UInt64), chain: WordArray) -> Lookup {
        var h1 = (header.0 &* 0x9E37_79B9_7F4A_7C15) ^ header.1 ^ (header.2 &* 0xD6E8_FEB8_6659_FD93)
        var h2 = (header.1 &* 0xC2B2_AE3D_27D4_EB4F) ^ header.0 ^ (header.2 &* 0x1656_67B1_9E37_79F9)
        for word in chain {
            h1 = (h1 ^ word) &* 0x9E37_79B9_7F4A_7C15
            h2 = (h2 &+ word) &* 0xC2B2_AE3D_27D4_EB4F
            h2 ^= h2 >> 29
        }
        guard let index = table.find(h1, h2) else { return .miss(Miss(slot: .new(h1, h2))) }
        let entry = entries[Int(index)]
        guard matches(entry, header, chain) else { return .miss(Miss(slot: .collision)) }  // two keys, one hash
        return entry.generation == generation ? .hit(entry.node) : .miss(Miss(slot: .stale(Int(index))))
    }

    /// Remembers `node` as the resolution of the key a ``lookup(header:chain:)`` missed.
    mutating func store(_ node: Int32, for miss: Miss, header: (UInt64, UInt64, UInt64), chain: WordArray) {
        switch miss.slot {
        case .collision:
            return
        case .stale(let index):
            entries[index].node = node
            entries[index].generation = generation
        case .new(let h1, let h2):
            guard words.count < StackCache.wordLimit else { return }
            entries.append(Entry(start: words.count, count: Int32(chain.count), node: node, generation: generation))
            words.append(header.0)
            words.append(header.1)
            words.append(header.2)
            words.append(contentsOf: chain)
            table.insert(h1, h2, value: Int32(entries.count - 1))
        }
    }

    /// The node for the key `(header, chain)`, from the cache or else from `resolve`.
    mutating func node(header: (UInt64, UInt64, UInt64), chain: WordArray, resolve: () -> Int32) -> Int32 {
        switch lookup(header: header, chain: chain) {
        case .hit(let node):
            return node
        case .miss(let miss):
            let node = resolve()
            store(node, for: miss, header: header, chain: chain)
            return node
        }
    }

    private func matches(_ entry: Entry, _ header: (UInt64, UInt64, UInt64), _ chain: WordArray) -> Bool {
        guard Int(entry.count) == chain.count, words[entry.start] == header.0, words[entry.start + 1] == header.1,
              words[entry.start + 2] == header.2 else { return false }
        var index = entry.start + 3
        for word in chain {
            if words[index] != word { return false }
            index += 1
        }
        return true
    }
}
