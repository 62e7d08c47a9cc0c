import ProfileModel

/// The callers of one report entry, merged into a tree rooted at the entry: each path starts at the
/// entry's frame (the leaf in self mode; the innermost occurrence in children mode) and walks toward
/// the outermost caller. Node 0 is a virtual root holding the entry's total.
struct CallerTree {
    /// Paths of node classes (`dso`+`sym` frame classes).
    private let tree: PrefixTree
    /// Total metric of the stacks through each node.
    private(set) var weight: [UInt64] = [0]
    /// Children of each node, unsorted.
    let children: [[Int32]]

    /// Node class of each node; -1 for the root.
    var nodeClass: [Int32] { tree.keys }

    /// Builds the tree of entry `entry` of `table`, following at most `depth` frames per path.
    init(table: OverheadTable, entry: Int, profile: Profile, nodeKeying: EntryKeying, depth: Int) {
        var tree = PrefixTree(capacity: 64)
        let useWeight = table.options.useWeight
        for k in table.memberStart[entry]..<table.memberStart[entry + 1] {
            let stack = profile.stacks[Int(table.memberStack[k])]
            let w = useWeight ? stack.period : stack.samples
            weight[0] = weight[0].addingSaturated(w)
            var node = PrefixTree.root
            var p = Int(table.memberPosition[k])
            let stop = max(-1, p - max(1, depth))
            while p > stop {
                node = tree.child(of: node, key: nodeKeying.frameClass(of: stack.frames[p]))
                if Int(node) == weight.count { weight.append(0) }
                weight[Int(node)] = weight[Int(node)].addingSaturated(w)
                p -= 1
            }
        }
        self.tree = tree
        children = tree.childLists()
    }
}
