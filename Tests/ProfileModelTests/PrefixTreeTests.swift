import ProfileModel
import Testing

struct PrefixTreeTests {
    @Test func samePathIsOneNodeAndPathsRoundTrip() {
        var tree = PrefixTree()
        let a = tree.node(for: [1, 2, 3])
        let b = tree.node(for: [1, 2, 3])
        let c = tree.node(for: [1, 2, 4])
        #expect(a == b)
        #expect(a != c)
        #expect(tree.path(to: a) == [1, 2, 3])
        #expect(tree.path(to: c) == [1, 2, 4])
        // Root, 1, 1/2, 1/2/3, 1/2/4.
        #expect(tree.nodeCount == 5)
        #expect(tree.path(to: PrefixTree.root) == [])
    }

    @Test func childrenAreKeyedByParent() {
        var tree = PrefixTree()
        let x = tree.child(of: PrefixTree.root, key: 7)
        let y = tree.child(of: x, key: 7)
        #expect(x != y)
        #expect(tree.parents[Int(y)] == x)
        #expect(tree.keys[Int(y)] == 7)
        #expect(tree.childLists()[Int(PrefixTree.root)] == [x])
        #expect(tree.childLists()[Int(x)] == [y])
    }

    @Test func manyNodesSurviveTableGrowth() {
        var tree = PrefixTree(capacity: 4)
        var nodes: [Int32] = []
        for key in 0..<20_000 { nodes.append(tree.node(for: [Int32(key % 97), Int32(key)])) }
        for key in 0..<20_000 { #expect(tree.path(to: nodes[key]) == [Int32(key % 97), Int32(key)]) }
        #expect(tree.nodeCount == 1 + 97 + 20_000)
    }
}

struct InternerTests {
    @Test func idsAreDenseAndStable() {
        var interner = Interner<String>()
        #expect(interner.intern("a") == 0)
        #expect(interner.intern("b") == 1)
        #expect(interner.intern("a") == 0)
        #expect(interner.values == ["a", "b"])
        #expect(interner[1] == "b")
        #expect(interner.id(of: "c") == nil)
    }
}

struct ProfileTests {
    @Test func totalsAreInTheMetricAndSaturate() {
        var profile = Profile(summary: RecordingSummary(event: "off-cpu"), metric: .offCPUTime)
        profile.stacks = [
            StackSample(thread: 0, frames: [], value: 30_000_000, samples: 1, period: 30_000_000),
            StackSample(thread: 0, frames: [], value: 10_000_000, samples: 3, period: 10_000_000),
        ]
        #expect(profile.totalValue == 40_000_000)
        #expect(profile.totalSamples == 4)
        #expect(profile.metric.unitName == "ns")
        profile.stacks.append(StackSample(thread: 0, frames: [], value: .max, samples: .max, period: .max))
        #expect(profile.totalValue == .max)
        #expect(profile.totalSamples == .max)
    }

    @Test func unknownIndicesGiveUnknownFrameAndThread() {
        let profile = Profile(summary: RecordingSummary(event: "cpu-clock"))
        #expect(profile.frameOrUnknown(-1) == .unknown)
        #expect(profile.frameOrUnknown(5).isUnknownSymbol)
        #expect(profile.threadOrUnknown(3) == .unknown)
        #expect(profile.metric == .samples)
    }

    @Test func sourceLocationPrintsLikeAddr2line() {
        #expect(SourceLocation(file: "a.c", line: 12).description == "a.c:12")
        #expect(SourceLocation(file: "a.c").description == "a.c")
    }
}

struct DSONamesTests {
    @Test func twoFilesWithOneNameAreToldApartByTheShortestTail() {
        let names = DSONames(paths: ["/usr/bin/git", "/usr/lib/git-core/git", "/usr/lib/x86_64-linux-gnu/libc.so.6", "[kernel.kallsyms]"])
        #expect(names.name(of: "/usr/bin/git") == "bin/git")
        #expect(names.name(of: "/usr/lib/git-core/git") == "git-core/git")
        #expect(names.name(of: "/usr/lib/x86_64-linux-gnu/libc.so.6") == "libc.so.6", "unique names stay short, as perf shows them")
        #expect(names.name(of: "[kernel.kallsyms]") == "[kernel.kallsyms]")
        #expect(names.name(of: "/not/in/the/profile/tool") == "tool")
    }

    @Test func tailsGrowUntilTheyDiffer() {
        let names = DSONames(paths: ["/a/x/lib/foo.so", "/b/x/lib/foo.so", "/c/y/lib/foo.so", "/foo.so"])
        #expect(names.name(of: "/a/x/lib/foo.so") == "/a/x/lib/foo.so", "only the whole path tells it apart")
        #expect(names.name(of: "/b/x/lib/foo.so") == "/b/x/lib/foo.so")
        #expect(names.name(of: "/c/y/lib/foo.so") == "y/lib/foo.so")
        #expect(names.name(of: "/foo.so") == "/foo.so", "a path with nothing left to add is shown whole")
    }
}
