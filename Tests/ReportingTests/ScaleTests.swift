import ProfileImport
import ProfileModel
import Reporting
import Testing

/// A deterministic large profile: `stackCount` unique stacks over `frameCount` frames and 32 threads.
func syntheticProfile(stackCount: Int, frameCount: Int = 5000, depth: Int = 30) -> Profile {
    var p = Profile(summary: RecordingSummary(event: "cpu-clock", frequency: 4000))
    p.frames = (0..<frameCount).map { Frame(symbol: "fn_\($0)", dso: "/usr/lib/lib\($0 % 40).so", kind: $0 % 50 == 0 ? .kernel : .user) }
    p.threads = (0..<32).map { ThreadInfo(pid: 1000 + Int32($0 / 8), tid: 2000 + Int32($0), comm: "t\($0 % 4)") }
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    p.stacks.reserveCapacity(stackCount)
    for i in 0..<stackCount {
        let d = 5 + Int(next() % UInt64(depth))
        // Shared roots (like main) then random frames, with some recursion.
        var frames: [Int32] = [0, 1]
        for _ in 0..<d { frames.append(Int32(next() % UInt64(frameCount))) }
        if i % 7 == 0 { frames.append(frames[frames.count / 2]) }
        p.stacks.append(StackSample(thread: Int32(next() % 32), frames: frames, value: 10, samples: 10, period: 10_000 + next() % 100))
    }
    return p
}

@Suite struct ScaleTests {
    @Test func largeProfileTotalsAreConsistent() throws {
        let profile = syntheticProfile(stackCount: 3_000)
        let table = OverheadTable(profile: profile, options: ReportOptions(children: true, useWeight: false))
        #expect(table.totalSamples == 30_000)
        #expect(table.entries.reduce(0) { $0 + $1.selfSamples } == 30_000)
        // `main` (frame 0) is in every stack of its comm: children of the four `main` rows sum to all.
        let mains = table.entries.filter { $0.symbol == "fn_0" }
        #expect(mains.reduce(0) { $0 + $1.childrenSamples } == 30_000)
        #expect(table.entries.allSatisfy { $0.childrenSamples <= table.totalSamples })

        let text = TextReport.render(profile, options: ReportOptions(children: true, callGraph: true, percentLimit: 0.5))
        #expect(text.contains("---fn_0\n"))
        let folded = try FoldedStacks.parse(FoldedWriter.write(profile))
        #expect(folded.reduce(0) { $0 + $1.count } == 30_000)
    }
}
