/// A unit's inline scopes: its scope tree and innermost-scope segments, built on its first lookup.
extension DWARFIndex {
    struct ScopeNode: Sendable {
        var dieOffset: UInt64
        var parent: Int32
        var isInlined: Bool
        var callFile: UInt32
        var callLine: UInt32
        var callColumn: UInt32
    }

    /// A CU's scope tree and its partition into innermost-scope segments: plain arrays, so a
    /// second thread can build them.
    struct Scopes: Sendable {
        var nodes: [ScopeNode] = []
        /// Segment `i` covers `[segmentStarts[i], segmentStarts[i + 1])` and is innermost
        /// scope `segmentNodes[i]` (`-1`: none).
        var segmentStarts: [UInt64] = []
        var segmentNodes: [Int32] = []
    }

    /// One address range of a scope, at its nesting depth.
    struct Interval {
        var low: UInt64
        var high: UInt64
        var node: Int32
        var depth: Int32
    }

    /// Partitions the CU's covered addresses into segments naming the innermost scope: a sweep
    /// over the intervals in address order with a max-heap of open intervals by (depth, node
    /// order). The innermost scope changes only where an interval starts or where the one on
    /// top of the heap ends, so those are the only points visited: an interval that ends
    /// under the top is dropped when it surfaces.
    static func segments(_ intervals: [Interval]) -> (starts: [UInt64], nodes: [Int32]) {
        guard !intervals.isEmpty else { return ([], []) }
        // The walk emits scopes in DIE order, often already in address order: then no sort.
        var inOrder = true
        for index in intervals.indices.dropFirst() where intervals[index].low < intervals[index - 1].low {
            inOrder = false
            break
        }
        let sorted = inOrder ? intervals : intervals.sorted { $0.low < $1.low }
        var heap = IntervalHeap()
        var next = 0
        var starts: [UInt64] = []
        var nodes: [Int32] = []
        while next < sorted.count || heap.top != nil {
            let point: UInt64
            if let top = heap.top, next == sorted.count || top.high <= sorted[next].low {
                point = top.high
            } else {
                point = sorted[next].low
            }
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
