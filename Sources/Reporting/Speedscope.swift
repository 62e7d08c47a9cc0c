import Profiling

/// Writes a ``Profile`` in speedscope's file format
/// (https://www.speedscope.app/file-format-schema.json): one `sampled` profile per thread, stacks
/// as indices into `shared.frames` from the outermost caller to the sampled frame.
///
/// For time-based events (`cpu-clock`, `task-clock`) the weights are the samples' periods in
/// nanoseconds; otherwise they are sample counts (unit `none`). Threads without samples are left
/// out; threads are ordered by samples, most first, so speedscope opens the busiest one.
public enum SpeedscopeWriter {
    public static let schema = "https://www.speedscope.app/file-format-schema.json"

    public static func write(_ profile: Profile, name: String? = nil) -> String {
        let timeBased = profile.summary.event == "cpu-clock" || profile.summary.event == "task-clock"
        let unit = timeBased ? "nanoseconds" : "none"

        // Frames: one per distinct (name, file, line).
        var frameIndex: [String: Int] = [:]
        var frameJSON: [String] = []
        var frameMap = [Int](repeating: -1, count: profile.frames.count)
        func index(of frame: Frame) -> Int {
            let label = FoldedWriter.frameLabel(frame, options: FoldedOptions())
            var file: String? = frame.dso == Frame.unknownSymbol || frame.dso.isEmpty ? nil : frame.dso
            var line: Int?
            if let source = frame.sourceLine, let colon = source.lastIndex(of: ":"), let number = Int(source[source.index(after: colon)...]) {
                file = String(source[..<colon])
                line = number
            }
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
        let unknown = index(of: Frame(symbol: Frame.unknownSymbol, dso: Frame.unknownSymbol, kind: .user))

        // Stacks per thread.
        var perThread: [Int: [Int]] = [:]
        for (i, s) in profile.stacks.enumerated() where s.count > 0 { perThread[Int(s.thread), default: []].append(i) }
        let order = perThread.keys.sorted { a, b in
            let ca = perThread[a]!.reduce(UInt64(0)) { $0 + profile.stacks[$1].count }
            let cb = perThread[b]!.reduce(UInt64(0)) { $0 + profile.stacks[$1].count }
            return ca != cb ? ca > cb : a < b
        }

        var out = "{\"$schema\": \(JSON.string(schema)),\n"
        out += "\"exporter\": \"perch\",\n"
        out += "\"name\": \(JSON.string(name ?? profile.summary.commandLine ?? "perch profile")),\n"
        out += "\"activeProfileIndex\": 0,\n"
        out += "\"shared\": {\"frames\": [\n" + frameJSON.joined(separator: ",\n") + "\n]},\n"
        out += "\"profiles\": ["
        for (p, t) in order.enumerated() {
            let thread = t >= 0 && t < profile.threads.count ? profile.threads[t] : ThreadInfo(pid: -1, tid: -1, comm: Frame.unknownSymbol)
            var samples = "", weights = ""
            var total: UInt64 = 0
            for (k, si) in perThread[t]!.enumerated() {
                let s = profile.stacks[si]
                let w = timeBased ? s.weight : s.count
                total &+= w
                if k > 0 { samples += ","; weights += "," }
                samples += "[" + s.frames.map { f in String(f >= 0 && Int(f) < frameMap.count ? frameMap[Int(f)] : unknown) }.joined(separator: ",") + "]"
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
