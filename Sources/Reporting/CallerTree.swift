import ProfileModel

/// The callers of one report entry, merged into a tree rooted at the entry: each path starts at the
/// entry's frame (the leaf in self mode; the innermost occurrence in children mode) and walks toward
/// the outermost caller. Node 0 is a virtual root holding the entry's total.
struct CallerTree {
    /// Node class (a `dso`+`sym` frame class) per node; -1 for the root.
    private(set) var nodeClass: [Int32] = [-1]
    /// Total metric of the stacks through each node.
    private(set) var weight: [UInt64] = [0]
    /// Children of each node, unsorted.
    private(set) var children: [[Int32]] = [[]]

    /// Builds the tree of entry `entry` of `table`, following at most `depth` frames per path.
    /// `scratch` is a reusable child-lookup table (cleared here).
    init(
        table: OverheadTable, entry: Int, profile: Profile, nodeKeying: EntryKeying,
        depth: Int, scratch: inout [UInt64: Int32]
    ) {
        scratch.removeAll(keepingCapacity: true)
        let useWeight = table.options.useWeight
        var parent: [Int32] = [-1]
        for k in table.memberStart[entry]..<table.memberStart[entry + 1] {
            let stack = profile.stacks[Int(table.memberStack[k])]
            let w = useWeight ? stack.period : stack.samples
            weight[0] &+= w
            var node: Int32 = 0
            var p = Int(table.memberPosition[k])
            let stop = max(-1, p - max(1, depth))
            while p > stop {
                let cls = nodeKeying.frameClass(of: stack.frames[p])
                let key = UInt64(UInt32(bitPattern: node)) << 32 | UInt64(UInt32(bitPattern: cls))
                let child: Int32
                if let existing = scratch[key] {
                    child = existing
                } else {
                    child = Int32(nodeClass.count)
                    scratch[key] = child
                    nodeClass.append(cls)
                    weight.append(0)
                    parent.append(node)
                }
                weight[Int(child)] &+= w
                node = child
                p -= 1
            }
        }
        children = Array(repeating: [], count: nodeClass.count)
        for n in 1..<nodeClass.count { children[Int(parent[n])].append(Int32(n)) }
    }
}
