import Testing
import TestSupport
@testable import Symbolication

@Suite("Inline scope segments")
struct InlineScopeSegmentsTests {
    /// The sweep against the definition on random scope sets (nested, overlapping, touching,
    /// disjoint, repeated bounds, empty and reversed intervals as corrupt DWARF has them): at
    /// every interval bound, the innermost open scope is the one of greatest (depth, node), and
    /// a segment starts exactly where that changes.
    @Test func segmentsNameTheInnermostScopeEverywhere() {
        var generator = SplitMix64(seed: 0x5EED)
        for round in 0..<400 {
            let count = 1 + Int(generator.next() % 40)
            let span = UInt64(8 + generator.next() % 200)
            var intervals: [DWARFIndex.Interval] = []
            for node in 0..<count {
                let low = generator.next() % span
                let length = generator.next() % 6 == 0 ? 0 : 1 + generator.next() % (span / 2)
                let high = generator.next() % 25 == 0 ? low &- 1 : low + length
                intervals.append(DWARFIndex.Interval(
                    low: low, high: high, node: Int32(node), depth: Int32(generator.next() % 5)))
            }
            let (starts, nodes) = DWARFIndex.segments(intervals)
            let expected = Self.definition(intervals)
            #expect(starts == expected.starts && nodes == expected.nodes, "round \(round): \(intervals)")
        }
    }

    /// Scopes given in address order (no sort) and out of it give the same segments.
    @Test func orderOfTheWalkDoesNotMatter() {
        let nested = [
            interval(0x100, 0x200, node: 0, depth: 0), interval(0x120, 0x180, node: 1, depth: 1),
            interval(0x130, 0x140, node: 2, depth: 2), interval(0x190, 0x1A0, node: 3, depth: 1),
        ]
        let forward = DWARFIndex.segments(nested)
        #expect(forward.starts == [0x100, 0x120, 0x130, 0x140, 0x180, 0x190, 0x1A0, 0x200])
        #expect(forward.nodes == [0, 1, 2, 1, 0, 3, 0, -1])
        let backward = DWARFIndex.segments(nested.reversed())
        #expect(backward.starts == forward.starts && backward.nodes == forward.nodes)
    }

    private static func definition(_ intervals: [DWARFIndex.Interval]) -> (starts: [UInt64], nodes: [Int32]) {
        let points = Set(intervals.flatMap { [$0.low, $0.high] }).sorted()
        var starts: [UInt64] = []
        var nodes: [Int32] = []
        for point in points {
            let open = intervals.filter { $0.low <= point && point < $0.high }
            let innermost = open.max { ($0.depth, $0.node) < ($1.depth, $1.node) }?.node ?? -1
            if nodes.last != innermost, !(nodes.isEmpty && innermost == -1 && point != intervals.map(\.low).min()!) {
                starts.append(point)
                nodes.append(innermost)
            }
        }
        return (starts, nodes)
    }
}

private func interval(_ low: UInt64, _ high: UInt64, node: Int32, depth: Int32) -> DWARFIndex.Interval {
    DWARFIndex.Interval(low: low, high: high, node: node, depth: depth)
}
