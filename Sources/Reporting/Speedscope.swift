import ProfileModel

/// Writes a ``Profile`` in speedscope's file format
/// (https://www.speedscope.app/file-format-schema.json): one `sampled` profile per thread, stacks
/// as indices into `shared.frames` from the outermost caller to the sampled frame.
///
/// Weights are the profile's metric: sample counts (unit `none`), or nanoseconds for off-CPU
/// profiles. Threads without any are left out; threads are ordered by their total, largest
/// first, so speedscope opens the busiest one.
public enum SpeedscopeWriter {
    public static let schema = "https://www.speedscope.app/file-format-schema.json"

    public static func write(_ profile: Profile, name: String? = nil) -> String {
        let unit = profile.metric.isTime ? "nanoseconds" : "none"

        // Frames: one per distinct (name, file, line).
        let dsoNames = DSONames(profile)
        var frameIndex: [String: Int] = [:]
        var frameJSON: [String] = []
        var frameMap = [Int](repeating: -1, count: profile.frames.count)
        func index(of frame: Frame) -> Int {
            let label = FoldedWriter.frameLabel(frame, options: FoldedOptions(), dsoNames: dsoNames)
            let line = frame.source?.line
            let file = line != nil ? frame.source?.file : frame.dso == Frame.unknownSymbol || frame.dso.isEmpty ? nil : frame.dso
            let key = label + "\u{0}" + (file ?? "") + "\u{0}" + (line.map(String.init) ?? "")
            if let i = frameIndex[key] { return i }
            var members: [(String, String)] = [("name", JSON.string(label))]
            if let file { members.append(("file", JSON.string(file))) }
            if let line { members.append(("line", "\(line)")) }
            let i = frameJSON.count
            frameJSON.append(JSON.object(members))
            frameIndex[key] = i
            return i
        }
        for (i, f) in profile.frames.enumerated() { frameMap[i] = index(of: f) }
        let unknown = index(of: .unknown)

        // Stacks per thread.
        var perThread: [Int: [Int]] = [:]
        var threadTotal: [Int: UInt64] = [:]
        for (i, s) in profile.stacks.enumerated() where s.value > 0 {
            perThread[Int(s.thread), default: []].append(i)
            threadTotal[Int(s.thread), default: 0] = threadTotal[Int(s.thread), default: 0].addingSaturated(s.value)
        }
        let order = perThread.keys.sorted { a, b in
            let ca = threadTotal[a]!, cb = threadTotal[b]!
            return ca != cb ? ca > cb : a < b
        }

        var out = "{\"$schema\": \(JSON.string(schema)),\n"
        out += "\"exporter\": \"perch\",\n"
        out += "\"name\": \(JSON.string(name ?? profile.summary.commandLine ?? "perch profile")),\n"
        out += "\"activeProfileIndex\": 0,\n"
        out += "\"shared\": {\"frames\": [\n" + frameJSON.joined(separator: ",\n") + "\n]},\n"
        out += "\"profiles\": ["
        for (p, t) in order.enumerated() {
            let thread = profile.threadOrUnknown(Int32(t))
            var samples = "", weights = ""
            var total: UInt64 = 0
            for (k, si) in perThread[t]!.enumerated() {
                let s = profile.stacks[si]
                let w = s.value
                total = total.addingSaturated(w)
                if k > 0 { samples += ","; weights += "," }
                let indices = s.frames.map { f in f >= 0 && Int(f) < frameMap.count ? frameMap[Int(f)] : unknown }
                samples += "[" + indices.map(String.init).joined(separator: ",") + "]"
                weights += String(w)
            }
            out += (p == 0 ? "\n" : ",\n")
            out += "{\"type\": \"sampled\", \"name\": \(JSON.string("\(thread.comm) (pid \(thread.pid), tid \(thread.tid))")), "
            out += "\"unit\": \"\(unit)\", \"startValue\": 0, \"endValue\": \(total),\n"
            out += "\"samples\": [" + samples + "],\n\"weights\": [" + weights + "]}"
        }
        out += "\n]}\n"
        return out
    }
}
