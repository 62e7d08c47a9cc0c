/// Unique call stacks as a trie of location ids, so that a million samples cost one node
/// lookup per frame and no allocation per sample.
struct StackTrie {
    /// Node 0 is the root; every other node is (parent, location).
    private(set) var parents: [Int32] = [-1]
    private(set) var locations: [Int32] = [-1]
    private var children = WordPairTable(capacity: 4096)

    /// The child of `node` for `location`, created on first use.
    mutating func child(of node: Int32, location: Int32) -> Int32 {
        let key = UInt64(UInt32(bitPattern: node)) << 32 | UInt64(UInt32(bitPattern: location))
        if let existing = children.find(key, 0) { return existing }
        let id = Int32(parents.count)
        parents.append(node)
        locations.append(location)
        children.insert(key, 0, value: id)
        return id
    }

    /// The locations from the root to `node`, outermost first.
    func path(to node: Int32) -> [Int32] {
        var path: [Int32] = []
        var current = node
        while current > 0 {
            path.append(locations[Int(current)])
            current = parents[Int(current)]
        }
        return path.reversed()
    }

    var nodeCount: Int { parents.count }
}
