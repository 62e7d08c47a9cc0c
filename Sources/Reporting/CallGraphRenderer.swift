import ProfileModel

/// Draws ``CallerTree``s in the ASCII style of `perf report --stdio -g` (graph mode).
///
/// Percentages are relative to the report total (perf's default `graph` mode), so they read the
/// same as the overhead column. A node whose only shown child carries all of its weight continues
/// as a plain chain (no percentage); otherwise each child is a `|--xx.xx%--name` branch, the last
/// one drawn as ` --xx.xx%--name`. Branches below the percent limit (of the total) or below the
/// call-graph limit (of the entry's own total) are omitted.
struct CallGraphRenderer {
    /// Display name per node class.
    let names: [String]
    let total: UInt64
    let percentLimit: Double
    let entryPercentLimit: Double
    /// Tree (graph, fractal) or one chain at a time (flat, folded).
    var layout: CallGraphLayout = .graph
    /// The indent of the graph under an entry line (perf uses 12 spaces).
    let indent = String(repeating: " ", count: 12)

    /// Node display names for `keying` (built with the `dso`,`sym` keys): the symbol, or for unknown
    /// symbols the DSO's short name in brackets (as stackcollapse-perf does), plus ` file:line`.
    static func names(profile: Profile, keying: EntryKeying, sourceLines: Bool) -> [String] {
        let dsoNames = DSONames(profile)
        return keying.frameRepresentative.map { rep in
            let frame = profile.frameOrUnknown(rep)
            var name = frame.symbol
            if frame.isUnknownSymbol && frame.dso != Frame.unknownSymbol { name = "[\(dsoNames.name(of: frame.dso))]" }
            if sourceLines, let line = frame.source?.description { name += " " + line }
            return name
        }
    }

    func render(_ tree: CallerTree, into out: inout String) {
        if layout == .flat || layout == .folded { return renderChains(tree, into: &out) }
        out += indent + "|\n"
        let top = visibleChildren(tree, 0)
        if top.count == 1 && tree.weight[Int(top[0])] == tree.weight[0] {
            let first = Int(top[0])
            out += indent + "---" + names[Int(tree.nodeClass[first])] + "\n"
            let prefix = indent + "   "
            let end = followChain(tree, from: first, prefix: prefix, into: &out)
            renderBranches(tree, of: end, prefix: prefix, into: &out)
        } else {
            renderBranches(tree, of: 0, prefix: indent, into: &out)
        }
        out += "\n"
    }

    /// Children above the limit, heaviest first, ties by name.
    private func visibleChildren(_ tree: CallerTree, _ node: Int) -> [Int32] {
        tree.children[node]
            .filter {
                let w = tree.weight[Int($0)]
                return w > 0 && percent(w, of: total) >= percentLimit
                    && percent(w, of: tree.weight[0]) >= entryPercentLimit
            }
            .sorted { a, b in
                let wa = tree.weight[Int(a)], wb = tree.weight[Int(b)]
                if wa != wb { return wa > wb }
                return names[Int(tree.nodeClass[Int(a)])] < names[Int(tree.nodeClass[Int(b)])]
            }
    }

    /// Prints the single full-weight children below `node` as a plain chain; returns the last node.
    private func followChain(_ tree: CallerTree, from node: Int, prefix: String, into out: inout String) -> Int {
        var node = node
        while true {
            let kids = visibleChildren(tree, node)
            guard kids.count == 1, tree.weight[Int(kids[0])] == tree.weight[node] else { return node }
            node = Int(kids[0])
            out += prefix + names[Int(tree.nodeClass[node])] + "\n"
        }
    }

    private func renderBranches(_ tree: CallerTree, of node: Int, prefix: String, into out: inout String) {
        let kids = visibleChildren(tree, node)
        for (i, kid) in kids.enumerated() {
            let child = Int(kid)
            let last = i == kids.count - 1
            // fractal: of the parent's share (the entry's for the first level); graph: of the total.
            let base = layout == .fractal ? tree.weight[node] : total
            let label = "--" + PercentFormat.string(percent(tree.weight[child], of: base)) + "--"
            out += prefix + "|\n"
            out += prefix + (last ? " " : "|") + label + names[Int(tree.nodeClass[child])] + "\n"
            let continuation = prefix + (last ? " " : "|") + String(repeating: " ", count: label.count)
            let end = followChain(tree, from: child, prefix: continuation, into: &out)
            renderBranches(tree, of: end, prefix: continuation, into: &out)
        }
    }

    /// flat and folded: every distinct chain of the entry, heaviest first, with its share of the
    /// total; flat puts a frame per line, folded joins the frames with `;`.
    private func renderChains(_ tree: CallerTree, into out: inout String) {
        var parent = [Int](repeating: -1, count: tree.weight.count)
        var ending = tree.weight
        for node in tree.children.indices {
            for child in tree.children[node] {
                parent[Int(child)] = node
                ending[node] = ending[node] &- min(ending[node], tree.weight[Int(child)])
            }
        }
        let chains = (1..<max(1, tree.weight.count)).filter { node in
            ending[node] > 0 && percent(ending[node], of: total) >= percentLimit
                && percent(ending[node], of: tree.weight[0]) >= entryPercentLimit
        }.sorted { ending[$0] != ending[$1] ? ending[$0] > ending[$1] : $0 < $1 }
        for node in chains {
            var frames: [String] = []
            var walk = node
            while walk > 0 {
                frames.append(names[Int(tree.nodeClass[walk])])
                walk = parent[walk]
            }
            frames.reverse()
            let share = PercentFormat.string(percent(ending[node], of: total))
            if layout == .folded {
                out += indent + share + " " + frames.joined(separator: ";") + "\n"
            } else {
                out += indent + share + "\n"
                for frame in frames { out += indent + "    " + frame + "\n" }
                out += "\n"
            }
        }
        if layout == .folded { out += "\n" }
    }
}
