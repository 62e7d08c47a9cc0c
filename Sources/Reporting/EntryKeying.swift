import ProfileModel

/// Reduces threads and frames to dense class ids according to the sort keys, once per thread and
/// once per interned frame, so aggregation works on integers only.
///
/// An entry is the pair (thread class, frame class). Index -1 (an out-of-range id, or a stack
/// without frames) maps to a synthetic `[unknown]` thread or frame.
struct EntryKeying {
    private struct ThreadPart: Hashable {
        var comm: Int32
        var pid: Int64
        var tid: Int64
    }

    private struct FramePart: Hashable {
        var dso: Int32
        var sym: Int32
        var kind: Int16
        var line: Int32
    }

    /// Thread class per thread index.
    let threadClass: [Int32]
    /// Class of an out-of-range thread index.
    let unknownThreadClass: Int32
    /// A representative thread index per thread class (-1: unknown thread).
    let threadRepresentative: [Int32]

    /// Frame class per frame index.
    let frameClass: [Int32]
    /// Class of a stack without frames or an out-of-range frame id.
    let unknownFrameClass: Int32
    /// A representative frame index per frame class (-1: unknown frame).
    let frameRepresentative: [Int32]

    var threadClassCount: Int { threadRepresentative.count }
    var frameClassCount: Int { frameRepresentative.count }

    init(profile: Profile, keys: [SortKey], sourceLines: Bool) {
        let useComm = keys.contains(.comm), usePid = keys.contains(.pid), useTid = keys.contains(.tid)
        let useDSO = keys.contains(.dso), useSym = keys.contains(.sym)
        var strings = Interner<String>()

        var threadParts = Interner<ThreadPart>()
        var threadReps: [Int32] = []
        func threadClassOf(_ part: ThreadPart, rep: Int32) -> Int32 {
            let id = threadParts.intern(part)
            if Int(id) == threadReps.count { threadReps.append(rep) }
            return id
        }
        func threadPart(comm: String, pid: Int32, tid: Int32, strings: inout Interner<String>) -> ThreadPart {
            ThreadPart(
                comm: useComm ? strings.intern(comm) : -1,
                pid: usePid ? Int64(pid) : Int64.min,
                tid: useTid ? Int64(tid) : Int64.min)
        }
        var tc = [Int32]()
        tc.reserveCapacity(profile.threads.count)
        for (i, t) in profile.threads.enumerated() {
            tc.append(threadClassOf(threadPart(comm: t.comm, pid: t.pid, tid: t.tid, strings: &strings), rep: Int32(i)))
        }
        unknownThreadClass = threadClassOf(
            threadPart(comm: Frame.unknownSymbol, pid: -1, tid: -1, strings: &strings), rep: -1)
        threadClass = tc

        var frameParts = Interner<FramePart>()
        var frameReps: [Int32] = []
        func frameClassOf(_ part: FramePart, rep: Int32) -> Int32 {
            let id = frameParts.intern(part)
            if Int(id) == frameReps.count { frameReps.append(rep) }
            return id
        }
        func framePart(_ f: Frame, strings: inout Interner<String>) -> FramePart {
            FramePart(
                dso: useDSO ? strings.intern(f.dso) : -1,
                sym: useSym ? strings.intern(f.symbol) : -1,
                kind: useSym ? Int16(f.kind.rawValue) : -1,
                line: useSym && sourceLines ? f.source.map { strings.intern($0.description) } ?? -1 : -1)
        }
        var fc = [Int32]()
        fc.reserveCapacity(profile.frames.count)
        for (i, f) in profile.frames.enumerated() {
            fc.append(frameClassOf(framePart(f, strings: &strings), rep: Int32(i)))
        }
        unknownFrameClass = frameClassOf(framePart(.unknown, strings: &strings), rep: -1)
        frameClass = fc
        threadRepresentative = threadReps
        frameRepresentative = frameReps
    }

    @inline(__always)
    func threadClass(of index: Int32) -> Int32 {
        index >= 0 && Int(index) < threadClass.count ? threadClass[Int(index)] : unknownThreadClass
    }

    @inline(__always)
    func frameClass(of index: Int32) -> Int32 {
        index >= 0 && Int(index) < frameClass.count ? frameClass[Int(index)] : unknownFrameClass
    }
}
