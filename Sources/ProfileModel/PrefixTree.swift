/// Paths of interned keys merged into one tree: every distinct path from the root is one node.
///
/// The one tree behind stack aggregation (keys are locations), call-graph trees (frame classes),
/// flame graphs (names) and folded output (labels). Node 0 is the root; every other node is a
/// (parent, key) pair, found again by one hash of the two words. Callers keep whatever each node
/// carries (sample counts, depths) in arrays indexed by node.
@frozen
public struct PrefixTree: Sendable {
    @usableFromInline var storedParents: [Int32] = [-1]
    @usableFromInline var storedKeys: [Int32] = [-1]

    /// The parent of each node; -1 for the root.
    @inlinable public var parents: [Int32] { storedParents }
    /// The key of each node; -1 for the root.
    @inlinable public var keys: [Int32] { storedKeys }
    @usableFromInline var children: WordPairTable

    @inlinable
    public init(capacity: Int = 4096) {
        children = WordPairTable(capacity: capacity)
    }

    public static let root: Int32 = 0

    /// Number of nodes, the root included.
    @inlinable
    public var nodeCount: Int { storedParents.count }

    /// The child of `node` for `key`, created on first use.
    @inlinable @inline(__always)
    public mutating func child(of node: Int32, key: Int32) -> Int32 {
        let pair = UInt64(UInt32(bitPattern: node)) << 32 | UInt64(UInt32(bitPattern: key))
        if let existing = children.find(pair, 0) { return existing }
        let id = Int32(storedParents.count)
        storedParents.append(node)
        storedKeys.append(key)
        children.insert(pair, 0, value: id)
        return id
    }

    /// The node at the end of `path` (outermost key first) below `node`, created as needed.
    @inlinable
    public mutating func node<S: Sequence<Int32>>(for path: S, from node: Int32 = root) -> Int32 {
        var current = node
        for key in path { current = child(of: current, key: key) }
        return current
    }

    /// The keys from the root to `node`, outermost first.
    @inlinable
    public func path(to node: Int32) -> [Int32] {
        var path: [Int32] = []
        var current = node
        while current > 0 {
            path.append(storedKeys[Int(current)])
            current = storedParents[Int(current)]
        }
        path.reverse()
        return path
    }

    /// Frees the table that finds a node's child by key, for a tree that is done growing: its
    /// nodes, parents and keys stay; ``child(of:key:)`` must not be called afterwards.
    public mutating func finishGrowing() {
        children = WordPairTable(capacity: 0)
    }

    /// The children of every node, in creation order.
    public func childLists() -> [[Int32]] {
        var lists = [[Int32]](repeating: [], count: storedParents.count)
        for node in 1..<storedParents.count { lists[Int(storedParents[node])].append(Int32(node)) }
        return lists
    }
}
