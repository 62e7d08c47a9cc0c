import ProfileModel

/// Builds small `ProfileModel.Profile` values by frame name: `add(thread:["main","work_a"], count:, weight:)`.
public struct ProfileBuilder {
    public var profile = Profile(summary: RecordingSummary(event: "cpu-clock", frequency: 4000))
    private var frameIds: [String: Int32] = [:]

    public init() { profile.summary.callGraph = "fp" }

    /// Adds (or reuses) a frame; the key is the symbol unless `key` is given.
    @discardableResult
    public mutating func frame(
        _ symbol: String, dso: String = "/usr/bin/known", kind: FrameKind = .user, address: UInt64 = 0,
        sourceLine: String? = nil, key: String? = nil
    ) -> Int32 {
        let k = key ?? symbol
        if let id = frameIds[k] { return id }
        let id = Int32(profile.frames.count)
        let source = sourceLine.map { text -> SourceLocation in
            guard let colon = text.lastIndex(of: ":"), let line = Int(text[text.index(after: colon)...]) else { return SourceLocation(file: text) }
            return SourceLocation(file: String(text[..<colon]), line: line)
        }
        profile.frames.append(Frame(symbol: symbol, dso: dso, kind: kind, address: address, source: source))
        frameIds[k] = id
        return id
    }

    @discardableResult
    public mutating func thread(pid: Int32, tid: Int32, comm: String) -> Int32 {
        profile.threads.append(ThreadInfo(pid: pid, tid: tid, comm: comm))
        return Int32(profile.threads.count - 1)
    }

    /// Adds a stack given as frame keys, outermost first: `count` samples (the metric, unless the
    /// profile measures time, then `weight` nanoseconds) carrying `weight` of period.
    public mutating func stack(_ thread: Int32, _ names: [String], count: UInt64, weight: UInt64) {
        let ids = names.map { name in frameIds[name] ?? frame(name) }
        let value = profile.metric.unit == .samples ? count : weight
        profile.stacks.append(StackSample(thread: thread, frames: ids, value: value, samples: count, period: weight))
        profile.summary.sampleCount += count
    }
}
