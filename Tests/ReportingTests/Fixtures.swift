import Profiling

/// Builds small profiles by frame name: `add(thread:["main","work_a"], count:, weight:)`.
struct ProfileBuilder {
    var profile = Profile(summary: RecordingSummary(event: "cpu-clock", frequency: 4000))
    private var frameIds: [String: Int32] = [:]

    init() { profile.summary.callGraph = "fp" }

    /// Adds (or reuses) a frame; the key is the symbol unless `key` is given.
    @discardableResult
    mutating func frame(
        _ symbol: String, dso: String = "/usr/bin/known", kind: FrameKind = .user, address: UInt64 = 0,
        sourceLine: String? = nil, key: String? = nil
    ) -> Int32 {
        let k = key ?? symbol
        if let id = frameIds[k] { return id }
        let id = Int32(profile.frames.count)
        profile.frames.append(Frame(symbol: symbol, dso: dso, kind: kind, address: address, sourceLine: sourceLine))
        frameIds[k] = id
        return id
    }

    @discardableResult
    mutating func thread(pid: Int32, tid: Int32, comm: String) -> Int32 {
        profile.threads.append(ThreadInfo(pid: pid, tid: tid, comm: comm))
        return Int32(profile.threads.count - 1)
    }

    /// Adds a stack given as frame keys, outermost first.
    mutating func stack(_ thread: Int32, _ names: [String], count: UInt64, weight: UInt64) {
        let ids = names.map { name in frameIds[name] ?? frame(name) }
        profile.stacks.append(StackSample(thread: thread, frames: ids, count: count, weight: weight))
        profile.summary.sampleCount += count
    }
}

/// The table rows of a text report (lines after the `#` header that start with a percentage).
func tableRows(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { line in
        !line.hasPrefix("#")
            && line.trimmingPrefix(while: { $0 == " " }).drop(while: { $0 == "\u{1B}" || $0 == "[" || $0 == "3" && false })
                .first.map { $0.isNumber || $0 == "\u{1B}" } == true
    }
}

extension String {
    func trimmingPrefix(while predicate: (Character) -> Bool) -> Substring {
        self[(firstIndex(where: { !predicate($0) }) ?? endIndex)...]
    }
}
