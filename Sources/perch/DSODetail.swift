import PerfRecords
import ProfileModel

/// `perch report -v`: a line per shared object of a profile, most sampled first: the samples
/// whose sampled frame is in it, its distinct frames, how many of them found no symbol, and the
/// build-id the recording noted for it. It says where `[unknown]` entries come from.
struct DSODetail {
    let text: String

    init(_ profile: Profile, file: PerfDataFile?) {
        var leafSamples: [String: UInt64] = [:]
        for stack in profile.stacks {
            let dso = profile.frameOrUnknown(stack.frames.last ?? -1).dso
            leafSamples[dso, default: 0] = leafSamples[dso, default: 0].addingSaturated(stack.samples)
        }
        var frames: [String: (all: Int, unknown: Int)] = [:]
        for frame in profile.frames {
            var counts = frames[frame.dso] ?? (0, 0)
            counts.all += 1
            if frame.isUnknownSymbol { counts.unknown += 1 }
            frames[frame.dso] = counts
        }
        var buildIDs: [String: String] = [:]
        for entry in file?.features.buildIDs ?? [] { buildIDs[entry.path] = entry.hex }
        let order = frames.keys.sorted { (leafSamples[$0] ?? 0, $1) > (leafSamples[$1] ?? 0, $0) }
        var lines = ["perch: \(order.count) shared objects (samples whose sampled frame is there, distinct frames, frames without a symbol):"]
        for dso in order {
            let counts = frames[dso] ?? (0, 0)
            var line = "perch:   \(dso): \(leafSamples[dso] ?? 0) samples, \(counts.all) frames, \(counts.unknown) without a symbol"
            if let id = buildIDs[dso] { line += ", build-id \(id)" }
            lines.append(line)
        }
        text = lines.joined(separator: "\n")
    }
}
