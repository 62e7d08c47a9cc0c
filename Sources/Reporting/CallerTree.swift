import ProfileModel

/// The call chains of one report entry, merged into a tree. In callee order each path starts at
/// the entry's frame (the leaf in self mode; the innermost occurrence in children mode) and walks
/// toward the outermost caller; in caller order it starts at the outermost caller (of the frames
/// kept by the depth) and ends at the entry's frame. Node 0 is a virtual root holding the entry's total.
struct CallerTree {
    /// Paths of node classes (`dso`+`sym` frame classes).
    private let tree: PrefixTree
    /// Total metric of the stacks through each node.
    private(set) var weight: [UInt64] = [0]
    /// Children of each node, unsorted.
    let children: [[Int32]]

    /// Node class of each node; -1 for the root.
    var nodeClass: [Int32] { tree.keys }

    /// Builds the tree of entry `entry` of `table`, following at most `depth` frames per path:
    /// from the entry's frame toward the callers (`.callee`), or from the outermost caller down to
    /// the entry's frame (`.caller`).
    init(table: OverheadTable, entry: Int, profile: Profile, nodeKeying: EntryKeying, depth: Int,
         order: CallGraphOrder = .callee) {
        var tree = PrefixTree(capacity: 64)
        let useWeight = table.options.useWeight
        for k in table.memberStart[entry]..<table.memberStart[entry + 1] {
            let stack = profile.stacks[Int(table.memberStack[k])]
            let w = useWeight ? stack.period : stack.samples
            weight[0] = weight[0].addingSaturated(w)
            var node = PrefixTree.root
            let position = Int(table.memberPosition[k])
            let stop = max(-1, position - max(1, depth))
            // The frames of the path, innermost first; the caller order walks them backwards.
            let path = order == .callee
                ? Array(stride(from: position, to: stop, by: -1))
                : Array(stride(from: stop + 1, through: position, by: 1))
            for p in path {
                node = tree.child(of: node, key: nodeKeying.frameClass(of: stack.frames[p]))
                if Int(node) == weight.count { weight.append(0) }
                weight[Int(node)] = weight[Int(node)].addingSaturated(w)
            }
        }
        self.tree = tree
        children = tree.childLists()
    }
}
