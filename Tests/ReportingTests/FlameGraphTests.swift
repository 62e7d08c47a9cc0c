import ProfileImport
import ProfileModel
import Reporting
import Testing
import TestSupport

@Suite struct FlameGraphTests {
    static func knownWeights() -> Profile {
        var b = ProfileBuilder()
        let t = b.thread(pid: 10, tid: 10, comm: "known")
        b.frame("do_syscall_64", dso: "[kernel.kallsyms]", kind: .kernel)
        b.stack(t, ["main", "work_a", "unit"], count: 50, weight: 500)
        b.stack(t, ["main", "work_b", "unit"], count: 30, weight: 300)
        b.stack(t, ["main", "work_c", "unit"], count: 19, weight: 190)
        b.stack(t, ["main", "work_c", "do_syscall_64"], count: 1, weight: 10)
        return b.profile
    }

    func frames(_ svg: String) -> [(title: String, x: Double, y: Double, width: Double, fill: String)] {
        svg.split(separator: "\n").filter { $0.hasPrefix("<g><title>") }.map { line in
            func attribute(_ name: String) -> String {
                let start = line.range(of: " \(name)=\"")!.upperBound
                return String(line[start...].prefix { $0 != "\"" })
            }
            let title = line.dropFirst("<g><title>".count).prefix { $0 != "<" }
            return (String(title), Double(attribute("x"))!, Double(attribute("y"))!, Double(attribute("width"))!, attribute("fill"))
        }
    }

    @Test func treeMergesStacksAndSortsSiblings() {
        let graph = FlameGraph(profile: Self.knownWeights())
        #expect(graph.total == 100)
        #expect(graph.maxDepth == 4)
        let root = graph.children[0]
        #expect(root.count == 1 && graph.names[Int(graph.nodeName[Int(root[0])])] == "known")
        let main = graph.children[Int(graph.children[Int(root[0])][0])]
        #expect(main.map { graph.names[Int(graph.nodeName[Int($0)])] } == ["work_a", "work_b", "work_c"])
        #expect(main.map { graph.nodeValue[Int($0)] } == [50, 30, 20])
    }

    @Test func svgHasTitleDetailsSearchAndProportionalWidths() {
        let svg = FlameGraphSVG.render(
            FlameGraph(profile: Self.knownWeights()),
            options: FlameGraphOptions(title: "KW & co", subtitle: "sub <1>", width: 1000))
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains(">KW &amp; co</text>") && svg.contains(">sub &lt;1&gt;</text>"))
        #expect(svg.contains("<script type=\"text/ecmascript\"><![CDATA[") && svg.contains("function search(term)"))
        #expect(svg.contains("id=\"unzoom\"") && svg.contains("id=\"matched\"") && svg.contains("id=\"details\""))
        #expect(!svg.contains("http://") || !svg.contains("src=\"http"), "self-contained")
        let f = frames(svg)
        #expect(f.count == 9)
        let workA = f.first { $0.title.hasPrefix("work_a (") }!
        #expect(workA.title == "work_a (50 samples, 50.00%)")
        #expect(abs(workA.width - 490) < 0.01)  // (1000 - 2*10) * 50%
        let known = f.first { $0.title.hasPrefix("known (") }!
        #expect(abs(known.width - 980) < 0.01 && known.x == 10)
        // Flame: the root at the bottom; icicle: at the top.
        #expect(known.y > workA.y)
        let icicle = frames(FlameGraphSVG.render(FlameGraph(profile: Self.knownWeights()), options: FlameGraphOptions(inverted: true)))
        let iKnown = icicle.first { $0.title.hasPrefix("known (") }!, iWorkA = icicle.first { $0.title.hasPrefix("work_a (") }!
        #expect(iKnown.y < iWorkA.y)
    }

    @Test func narrowFramesAreLeftOut() {
        let svg = FlameGraphSVG.render(FlameGraph(profile: Self.knownWeights()), options: FlameGraphOptions(width: 1000, minWidth: 10))
        // do_syscall_64 is 1% = 9.8 px.
        #expect(!svg.contains("do_syscall_64"))
        #expect(svg.contains("work_c (20 samples"))
        let big = syntheticProfile(stackCount: 20_000)
        let small = FlameGraphSVG.bytes(FlameGraph(profile: big), options: FlameGraphOptions(minWidth: 1))
        let all = FlameGraphSVG.bytes(FlameGraph(profile: big), options: FlameGraphOptions(minWidth: 0))
        #expect(small.count * 5 < all.count, "\(small.count) vs \(all.count)")
    }

    @Test func reverseMergesByLeaf() {
        let graph = FlameGraph(profile: Self.knownWeights(), reverse: true)
        let roots = graph.children[0].map { graph.names[Int(graph.nodeName[Int($0)])] }
        #expect(roots == ["do_syscall_64", "unit"])
        let unit = graph.children[0].first { graph.names[Int(graph.nodeName[Int($0)])] == "unit" }!
        #expect(graph.nodeValue[Int(unit)] == 99)
    }

    @Test func coloursAreStablePerNameAndFollowKinds() {
        let a = FlameGraphSVG.colour(name: "work_a", kind: .native, palette: .hot)
        #expect(a == FlameGraphSVG.colour(name: "work_a", kind: .native, palette: .hot))
        #expect(a != FlameGraphSVG.colour(name: "work_b", kind: .native, palette: .hot))
        let kernel = FlameGraphSVG.colour(name: "x", kind: .kernel, palette: .kind)
        let jit = FlameGraphSVG.colour(name: "x", kind: .jit, palette: .kind)
        #expect(kernel != jit)
        #expect(FlameFrameKind.guess(name: "closure #1 in Foo.bar(x:)") == .swift)
        #expect(FlameFrameKind.guess(name: "std::vector<int>::push_back") == .cpp)
        #expect(FlameFrameKind.guess(name: "memcpy") == .native)
        let graph = FlameGraph(folded: [(["p", "f_[k]", "g_[j]", "h_[i]"], 1)])
        #expect(graph.names == ["p", "f", "g", "h"])
        #expect(graph.kinds == [.native, .kernel, .jit, .inlined])
        // The same function has the same fill in two graphs.
        let one = frames(FlameGraphSVG.render(FlameGraph(folded: [(["a", "shared"], 3)])))
        let two = frames(FlameGraphSVG.render(FlameGraph(folded: [(["b", "c", "shared"], 1), (["b", "d"], 5)])))
        #expect(one.first { $0.title.hasPrefix("shared") }!.fill == two.first { $0.title.hasPrefix("shared") }!.fill)
    }

    @Test func differentialGraphIsNormalizedRedForGrowthBlueForShrinkage() {
        // Before: a 50, b 50 (of 100). After: a 150, b 50 (of 200). Scaled before: a 100, b 100.
        let before: [(stack: [String], count: UInt64)] = [(["p", "a"], 50), (["p", "b"], 50), (["p", "gone"], 0)]
        let after: [(stack: [String], count: UInt64)] = [(["p", "a"], 150), (["p", "b"], 50)]
        let graph = FlameGraph(before: before, after: after)
        #expect(graph.isDifferential)
        let f = frames(FlameGraphSVG.render(graph))
        let a = f.first { $0.title.hasPrefix("a (") }!, b = f.first { $0.title.hasPrefix("b (") }!, p = f.first { $0.title.hasPrefix("p (") }!
        #expect(a.title == "a (150 samples, 75.00%; +25.00%)")
        #expect(b.title == "b (50 samples, 25.00%; -25.00%)")
        #expect(a.fill == "rgb(255,0,0)" && b.fill == "rgb(0,0,255)")
        #expect(p.fill == "rgb(250,250,250)")
    }
}

@Suite struct ExportFormatTests {
    @Test func gzipStoredBlocksHaveTheRightCRCAndLayout() {
        #expect(Gzip.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        let data = [UInt8](repeating: 7, count: 70_000)
        let gz = Gzip.stored(data)
        #expect(gz.starts(with: [0x1F, 0x8B, 8]))
        #expect(gz.count == 10 + 5 + 65535 + 5 + (70_000 - 65535) + 8)
        #expect(gz[10] == 0 && gz[10 + 5 + 65535] == 1)  // first block not final, second final
        #expect(Gzip.stored([]).count == 10 + 5 + 8)
    }

    @Test func pprofCarriesAllSamplesAndStrings() {
        let profile = FlameGraphTests.knownWeights()
        let bytes = PprofWriter.encode(profile)
        // The string table holds the sample types and every frame name.
        let text = String(decoding: bytes, as: UTF8.self)
        for s in ["samples", "count", "cpu", "nanoseconds", "work_a", "unit", "do_syscall_64", "thread", "known"] {
            #expect(text.contains(s), "\(s) missing")
        }
        #expect(PprofWriter.write(profile).starts(with: [0x1F, 0x8B]))
    }

    @Test func speedscopeHasSchemaFramesAndOneProfilePerThread() throws {
        var b = ProfileBuilder()
        let t1 = b.thread(pid: 1, tid: 1, comm: "main")
        let t2 = b.thread(pid: 1, tid: 2, comm: "worker")
        b.stack(t1, ["main", "f"], count: 2, weight: 20)
        b.stack(t2, ["start", "g"], count: 5, weight: 50)
        // On-CPU: the metric is samples, so are the weights (unit none).
        let json = SpeedscopeWriter.write(b.profile)
        #expect(json.contains("\"$schema\": \"https://www.speedscope.app/file-format-schema.json\""))
        #expect(json.contains("\"type\": \"sampled\", \"name\": \"worker (pid 1, tid 2)\", \"unit\": \"none\", \"startValue\": 0, \"endValue\": 5"))
        #expect(json.contains("\"samples\": [[2,3]],\n\"weights\": [5]"))
        #expect(json.firstRange(of: "worker")!.lowerBound < json.firstRange(of: "\"main (pid")!.lowerBound, "busiest thread first")

        // Off-CPU: the metric is nanoseconds, so are the weights.
        var offCPU = ProfileBuilder()
        offCPU.profile.metric = .offCPUTime
        let s1 = offCPU.thread(pid: 1, tid: 1, comm: "main")
        offCPU.stack(s1, ["main", "select"], count: 1, weight: 500_000_000)
        offCPU.stack(s1, ["main", "nanosleep"], count: 21, weight: 210_000_000)
        let timed = SpeedscopeWriter.write(offCPU.profile)
        #expect(timed.contains("\"unit\": \"nanoseconds\", \"startValue\": 0, \"endValue\": 710000000"))
        #expect(timed.contains("\"weights\": [500000000,210000000]") || timed.contains("\"weights\": [210000000,500000000]"))
    }

    @Test func processSummaryGroupsThreads() {
        var b = ProfileBuilder()
        let t1 = b.thread(pid: 100, tid: 100, comm: "app")
        let t2 = b.thread(pid: 100, tid: 101, comm: "worker")
        let t3 = b.thread(pid: 200, tid: 200, comm: "other")
        b.stack(t1, ["a"], count: 3, weight: 3)
        b.stack(t2, ["b"], count: 3, weight: 3)
        b.stack(t3, ["c"], count: 4, weight: 4)
        #expect(TextReport.processSummary(b.profile) == """
            # Processes: 2   Samples: 10
            #
            #  Pid  Command  Threads  Samples  Percent
            #
               100  app            2        6   60.00%
               200  other          1        4   40.00%

            """)
    }
}

@Suite struct FoldedTextFastPathTests {
    @Test func fastParserAgreesWithFoldedStacks() throws {
        let text = "a;b c;d 7\r\n\n  \nx 1\na;b c;d 3\nz;y 0\n"
        let fast = try FlameGraph(foldedText: Array(text.utf8))
        let slow = FlameGraph(folded: try FoldedStacks.parse(text))
        #expect(fast.total == 11 && slow.total == 11)
        #expect(FlameGraphSVG.render(fast) == FlameGraphSVG.render(slow))
        for (bad, line) in [("a;b 1\nc;d\n", 2), ("a;b 1\n\nc;d x\n", 3), (" 5\n", 1), ("a 99999999999999999999999\n", 1)] {
            #expect(throws: FoldedStacksError(line: line, reason: line == 1 && bad.hasPrefix(" ") ? "empty stack" : (bad.contains("x\n") || bad.contains("999") ? "invalid sample count '\(bad.contains("999") ? "99999999999999999999999" : "x")'" : "missing sample count"))) {
                try FlameGraph(foldedText: Array(bad.utf8))
            }
        }
    }
}
