import CElfutils

/// A unit's inline scopes: its scope tree and innermost-scope segments, built on its first lookup.
extension DWARFIndex {
    struct ScopeNode {
        var dieOffset: UInt64
        var parent: Int32
        var isInlined: Bool
        var callFile: UInt32
        var callLine: UInt32
        var callColumn: UInt32
    }

    /// A CU's scope tree and its partition into innermost-scope segments: plain arrays, so a
    /// second thread with its own libdw handle can build them.
    struct Scopes {
        var nodes: [ScopeNode] = []
        /// Segment `i` covers `[segmentStarts[i], segmentStarts[i + 1])` and is innermost
        /// scope `segmentNodes[i]` (`-1`: none).
        var segmentStarts: [UInt64] = []
        var segmentNodes: [Int32] = []
    }

    private struct Interval {
        var low: UInt64
        var high: UInt64
        var node: Int32
        var depth: Int32
    }

    func loadScopes(_ unit: Unit) -> Scopes {
        if let scopes = unit.scopes { return scopes }
        var die = unit.die
        let scopes = Self.scopes(ofUnit: &die)
        unit.scopes = scopes
        return scopes
    }

    static func scopes(ofUnit die: inout Dwarf_Die) -> Scopes {
        var scopes = Scopes()
        var intervals: [Interval] = []
        walk(&die, nodes: &scopes.nodes, parent: -1, depth: 0, intervals: &intervals)
        (scopes.segmentStarts, scopes.segmentNodes) = segments(intervals)
        return scopes
    }

    private static func walk(
        _ die: inout Dwarf_Die, nodes: inout [ScopeNode], parent: Int32, depth: Int32, intervals: inout [Interval]
    ) {
        var child = Dwarf_Die()
        guard dwarf_child(&die, &child) == 0 else { return }
        repeat {
            let tag = Int(dwarf_tag(&child))
            switch tag {
            case DW_TAG_subprogram, DW_TAG_inlined_subroutine:
                let inlined = tag == DW_TAG_inlined_subroutine
                let node = Int32(nodes.count)
                let any = forEachRange(of: &child) { intervals.append(Interval(low: $0, high: $1, node: node, depth: depth)) }
                // Declarations and abstract instances have no code (nor do their children).
                guard any else { continue }
                var scope = ScopeNode(
                    dieOffset: dwarf_dieoffset(&child), parent: inlined ? parent : -1,
                    isInlined: inlined, callFile: 0, callLine: 0, callColumn: 0)
                if inlined {
                    scope.callFile = UInt32(truncatingIfNeeded: unsignedAttribute(&child, DW_AT_call_file))
                    scope.callLine = UInt32(truncatingIfNeeded: unsignedAttribute(&child, DW_AT_call_line))
                    scope.callColumn = UInt32(truncatingIfNeeded: unsignedAttribute(&child, DW_AT_call_column))
                }
                nodes.append(scope)
                if dwarf_haschildren(&child) != 0 {
                    walk(&child, nodes: &nodes, parent: node, depth: depth + 1, intervals: &intervals)
                }
            case DW_TAG_lexical_block, DW_TAG_try_block, DW_TAG_catch_block, DW_TAG_with_stmt,
                 DW_TAG_namespace, DW_TAG_module, DW_TAG_class_type, DW_TAG_structure_type,
                 DW_TAG_union_type, DW_TAG_entry_point, DW_TAG_common_block:
                if dwarf_haschildren(&child) != 0 {
                    walk(&child, nodes: &nodes, parent: parent, depth: depth, intervals: &intervals)
                }
            default:
                continue
            }
        } while Self.advance(&child)
    }

    /// Moves `die` to its next sibling; `false` when there is none.
    private static func advance(_ die: inout Dwarf_Die) -> Bool {
        var sibling = Dwarf_Die()
        guard dwarf_siblingof(&die, &sibling) == 0 else { return false }
        die = sibling
        return true
    }

    private static func unsignedAttribute(_ die: inout Dwarf_Die, _ name: Int) -> UInt64 {
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr(&die, UInt32(name), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0
        else { return 0 }
        return value
    }

    /// Partitions the CU's covered addresses into segments naming the innermost scope: a sweep
    /// over interval boundaries with a max-heap of open intervals by (depth, node order).
    private static func segments(_ intervals: [Interval]) -> (starts: [UInt64], nodes: [Int32]) {
        guard !intervals.isEmpty else { return ([], []) }
        let sorted = intervals.sorted { $0.low < $1.low }
        var boundaries: [UInt64] = []
        boundaries.reserveCapacity(sorted.count * 2)
        for interval in sorted {
            boundaries.append(interval.low)
            boundaries.append(interval.high)
        }
        boundaries.sort()
        var heap = IntervalHeap()
        var next = 0
        var starts: [UInt64] = []
        var nodes: [Int32] = []
        var previous: UInt64? = nil
        for point in boundaries {
            if point == previous { continue }
            previous = point
            while next < sorted.count, sorted[next].low == point {
                heap.push(sorted[next])
                next += 1
            }
            while let top = heap.top, top.high <= point { heap.pop() }
            let node = heap.top?.node ?? -1
            if nodes.last != node {
                starts.append(point)
                nodes.append(node)
            }
        }
        return (starts, nodes)
    }

    /// A binary max-heap of intervals by (depth, node): the innermost, latest scope on top.
    private struct IntervalHeap {
        private var items: [Interval] = []

        var top: Interval? { items.first }

        private static func above(_ a: Interval, _ b: Interval) -> Bool {
            a.depth != b.depth ? a.depth > b.depth : a.node > b.node
        }

        mutating func push(_ item: Interval) {
            items.append(item)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.above(items[child], items[parent]) else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() {
            let last = items.removeLast()
            guard !items.isEmpty else { return }
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var best = parent
                if left < items.count, Self.above(items[left], items[best]) { best = left }
                if right < items.count, Self.above(items[right], items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
    }
}
