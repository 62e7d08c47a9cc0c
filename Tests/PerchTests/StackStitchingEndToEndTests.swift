import Foundation
import Testing
import TestSupport

/// Stack stitching, end to end: a fixture recursing ~200 KiB deep (past the kernel's largest
/// 64 KiB user-stack copy), recorded by the real `perch` with default options on the real
/// kernel. Serialized: the recordings need the CPUs.
@Suite(.serialized) struct StackStitchingEndToEndTests {
    private func output(_ name: String) -> String { Support.workDirectory + "/" + name }

    private func samples(_ stacks: [(frames: [String], count: Int)], where predicate: ([String]) -> Bool = { _ in true }) -> Int {
        stacks.filter { predicate($0.frames) }.reduce(0) { $0 + $1.count }
    }

    private var fixture: String {
        get throws { try Support.fixture("deep_recursion", flags: ["-O2", "-g", "-fomit-frame-pointer"]) }
    }

    @Test func deepRecursionReachesMainFromEarlierSamples() throws {
        let stacks = output("stitch-main.folded")
        // 200 KiB stacks in 64 KiB copies: about a gigabyte of recording, not kept once read.
        defer { unlink(output("stitch-main.data")) }
        let result = try Support.perch(["record", "-o", output("stitch-main.data"), "--folded", stacks, "--", fixture, "3"])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try FoldedFile.stacks(at: stacks)
        let total = samples(parsed)
        let deep = samples(parsed) { $0.filter { $0 == "recurse" }.count > 150 }
        #expect(total > 1000, "only \(total) samples")
        // Without stitching, every stack deeper than the copy (~120 frames of 512 bytes) ends in [truncated].
        #expect(deep * 4 >= total, "only \(deep) of \(total) samples are more than 150 frames deep")
        let reaching = samples(parsed) { $0.contains("main") && !$0.contains("[truncated]") }
        #expect(reaching * 100 >= total * 95, "\(reaching) of \(total) samples reach main")
        let report = Support.report(ofRecording: result)
        #expect(report.contains("were completed from an earlier sample of the same thread through the same frame"), "\(report)")
        // A stitched stack is the whole stack: main, dive_until_done, then every level of the recursion.
        let deepest = try #require(parsed.max { $0.frames.count < $1.frames.count })
        #expect(deepest.frames.filter { $0 == "recurse" }.count == 401, "\(deepest.frames.filter { $0 == "recurse" }.count) recurse frames")
        #expect(deepest.frames.contains("dive_until_done"))
    }

    /// Two threads (`threads`) or two forked processes (`fork`: identical address layouts, so
    /// identical stack addresses and return addresses) recurse through the same function from
    /// differently named roots: every stitched stack keeps its own thread's root.
    @Test(arguments: [("threads", "thread_one_start", "thread_two_start"), ("fork", "child_one_main", "child_two_main")])
    func neverStitchesAcrossThreads(mode: String, firstRoot: String, secondRoot: String) throws {
        let stacks = output("stitch-\(mode).folded")
        defer { unlink(output("stitch-\(mode).data")) }  // about a gigabyte, not kept once read
        let result = try Support.perch(["record", "-o", output("stitch-\(mode).data"), "--folded-tid", "--folded", stacks, "--", fixture, "3", mode])
        #expect(result.status == 0, "\(result.stderr)")
        let report = Support.report(ofRecording: result)
        #expect(report.contains("were completed from an earlier sample of the same thread through the same frame"), "\(report)")
        let parsed = try FoldedFile.stacks(at: stacks)
        var checked = 0
        // Which root is each tid's: from its samples under its own name (deep-one, deep-two). A
        // sample taken before the rename (the first moments of a child) carries the parent's name
        // and is judged by its tid.
        func tid(_ thread: String) -> Substring { thread.split(separator: "/").last ?? "" }
        var rootOfTID: [Substring: String] = [:]
        for (frames, _) in parsed {
            guard let thread = frames.first else { continue }
            if thread.hasPrefix("deep-one") { rootOfTID[tid(thread)] = firstRoot }
            if thread.hasPrefix("deep-two") { rootOfTID[tid(thread)] = secondRoot }
        }
        // Every stack that reaches one of the two roots reaches its own thread's.
        for (frames, count) in parsed where frames.contains(firstRoot) || frames.contains(secondRoot) {
            let thread = try #require(frames.first)
            let own = try #require(rootOfTID[tid(thread)], "\(thread) never ran under its own name")
            let other = own == firstRoot ? secondRoot : firstRoot
            #expect(frames.contains(own) && !frames.contains(other), "\(thread) has \(frames.prefix(6))")
            if frames.filter({ $0 == "recurse" }).count > 150 { checked += count }
        }
        #expect(checked > 200, "only \(checked) deep stacks reached a root")
    }
}
