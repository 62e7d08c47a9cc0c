import ProfileModel

/// What a flame graph frame is, for the `kind` palette.
public enum FlameFrameKind: UInt8, Sendable, CaseIterable {
    /// Native user code that looks like neither Swift nor C++ (C, Rust, ...).
    case native
    case kernel
    case swift
    case cpp
    case jit
    case inlined
    /// An unknown frame (`[unknown]`, `[libfoo.so]`).
    case unknown

    /// Guesses the kind of a user frame from its (demangled) name and DSO: for folded stacks, which
    /// carry nothing else. Frames of a recorded profile have their language from the symbolizer.
    public static func guess(name: String, dso: String = "") -> FlameFrameKind {
        if name.hasPrefix("[") && name.hasSuffix("]") { return .unknown }
        if name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") || name.contains("closure #")
            || name.contains("Swift.") || name.contains(":)") || name.hasPrefix("specialized ")
            || name.hasPrefix("protocol witness") || name.contains(" in ") && name.contains("#")
            || dso.contains("libswift")
        {
            return .swift
        }
        if name.hasPrefix("_Z") || name.contains("::") || name.contains("operator") || (name.contains("<") && name.contains(">")) {
            return .cpp
        }
        return .native
    }

    /// The kind of a frame of a ``Profile``, from its typed kind and language.
    static func of(_ frame: Frame) -> FlameFrameKind {
        switch frame.kind {
        case .kernel: return .kernel
        case .jit: return .jit
        case .inlined: return .inlined
        case .user:
            if frame.isUnknownSymbol || frame.symbol.hasPrefix("[") && frame.symbol.hasSuffix("]") { return .unknown }
            switch frame.language {
            case .swift: return .swift
            case .cpp: return .cpp
            case .rust, .c, .unknown: return .native
            }
        }
    }
}

/// A merged call tree for flame graphs: every distinct path from a root is one node whose value is
/// the samples (or nanoseconds: see ``countName``) of the stacks through it. Siblings are ordered
/// by name (bytewise), as flame graphs drawn from sorted folded stacks are. In a differential graph
/// every node also carries the "before" value, already scaled to the "after" total.
public struct FlameGraph: Sendable {
    /// Frame names (annotations such as `_[k]` removed) and their kinds.
    public private(set) var names: [String] = []
    public private(set) var kinds: [FlameFrameKind] = []
    /// Paths of name ids; node 0 is the virtual root (everything).
    private var tree = PrefixTree()
    public private(set) var nodeDepth: [Int32] = [0]
    public private(set) var nodeValue: [UInt64] = [0]
    /// Whether the counts summed past 2^64 and the totals stopped at `UInt64.max` (input no
    /// real profile gives, so the caller should say so).
    public private(set) var saturated = false
    /// Scaled "before" values (differential graphs only, else empty).
    public private(set) var nodeBefore: [Double] = []
    /// Children per node, sorted by name.
    public private(set) var children: [[Int32]] = [[]]
    /// What the values count, for tooltips: `samples`, or `ns` for a graph of time.
    public var countName = "samples"
    /// The title a graph of this metric gets unless one is given (nil: flamegraph.pl's).
    public var defaultTitle: String?

    /// The name id of each node (-1 for the root).
    public var nodeName: [Int32] { tree.keys }
    /// The parent of each node (-1 for the root).
    public var nodeParent: [Int32] { tree.parents }
    /// Whether the graph compares two profiles.
    public var isDifferential: Bool { !nodeBefore.isEmpty }
    /// Everything the graph holds.
    public var total: UInt64 { nodeValue[0] }
    /// The deepest node's depth (the root is 0).
    public var maxDepth: Int { Int(nodeDepth.max() ?? 0) }

    private var nameIds: [String: Int32] = [:]

    public init() {}

    mutating func intern(_ name: String, kind: FlameFrameKind) -> Int32 {
        if let id = nameIds[name] { return id }
        let id = Int32(names.count)
        names.append(name)
        kinds.append(kind)
        nameIds[name] = id
        return id
    }

    /// Adds `count` of a stack of interned names, outermost first.
    package mutating func add<S: Sequence<Int32>>(_ stack: S, count: UInt64, before: Double? = nil) {
        var node = PrefixTree.root
        let (total, overflow) = nodeValue[0].addingReportingOverflow(count)
        nodeValue[0] = overflow ? .max : total
        if overflow { saturated = true }
        if let before { nodeBefore[0] += before }
        for name in stack {
            let child = tree.child(of: node, key: name)
            if Int(child) == nodeValue.count {
                nodeDepth.append(nodeDepth[Int(node)] + 1)
                nodeValue.append(0)
                if !nodeBefore.isEmpty || before != nil {
                    if nodeBefore.isEmpty { nodeBefore = [Double](repeating: 0, count: nodeValue.count - 1) }
                    nodeBefore.append(0)
                }
            }
            nodeValue[Int(child)] = nodeValue[Int(child)].addingSaturated(count)
            if let before { nodeBefore[Int(child)] += before }
            node = child
        }
    }

    /// Fills ``children`` sorted by name; call after the last ``add``.
    package mutating func finish() {
        nameIds = [:]
        tree.finishGrowing()
        let order = names.indices.sorted { names[$0].utf8.lexicographicallyPrecedes(names[$1].utf8) }
        var rank = [Int32](repeating: 0, count: names.count)
        for (r, id) in order.enumerated() { rank[id] = Int32(r) }
        children = tree.childLists()
        let nodeName = tree.keys
        for i in children.indices where children[i].count > 1 {
            children[i].sort { rank[Int(nodeName[Int($0)])] < rank[Int(nodeName[Int($1)])] }
        }
    }

    // MARK: Builders

    /// The graph of a recorded profile: its metric's values, the thread's command (or `comm-pid`,
    /// `comm-pid/tid` per `folded`) as the root frame, names as in folded output, kinds from the
    /// frames. `reverse` puts the sampled frame at the root (merged by leaf).
    public init(profile: Profile, folded: FoldedOptions = FoldedOptions(), reverse: Bool = false) {
        var plain = folded
        plain.annotateKernel = false
        plain.annotateJIT = false
        plain.annotateInlined = false
        countName = profile.metric.unitName
        defaultTitle = profile.metric.isTime ? "\(profile.metric == .offCPUTime ? "Off-CPU" : "On- and Off-CPU") Time Flame Graph (\(countName))" : nil
        let dsoNames = DSONames(profile)
        let frameName = profile.frames.map { intern(FoldedWriter.frameLabel($0, options: plain, dsoNames: dsoNames), kind: .of($0)) }
        let unknownFrame = intern("[unknown]", kind: .unknown)
        let hasRoot = folded.includeComm || folded.includePid || folded.includeTid
        let threadRoot = profile.threads.map { intern(FoldedWriter.rootLabel($0, options: plain), kind: .native) }
        let unknownRoot = intern(FoldedWriter.rootLabel(ThreadInfo(pid: -1, tid: -1, comm: "[unknown]"), options: plain), kind: .native)
        var path: [Int32] = []
        for stack in profile.stacks where stack.value > 0 {
            path.removeAll(keepingCapacity: true)
            if hasRoot {
                let t = Int(stack.thread)
                path.append(t >= 0 && t < threadRoot.count ? threadRoot[t] : unknownRoot)
            }
            for f in stack.frames { path.append(f >= 0 && Int(f) < frameName.count ? frameName[Int(f)] : unknownFrame) }
            if path.isEmpty { continue }
            if reverse { add(path.reversed(), count: stack.value) } else { add(path, count: stack.value) }
        }
        finish()
    }

    /// The graph of folded stacks. Annotations (`_[k]`, `_[j]`, `_[i]`, `_[w]`) set the kind and are
    /// removed from the names; other frames are guessed from their names.
    public init(folded: [(stack: [String], count: UInt64)], reverse: Bool = false) {
        var path: [Int32] = []
        for (stack, count) in folded where count > 0 {
            path = stack.map { internFolded($0) }
            if reverse { path.reverse() }
            add(path, count: count)
        }
        finish()
    }

    /// A differential graph, like `difffolded.pl -n | flamegraph.pl`: widths are `after`'s samples,
    /// and each frame also knows `before`'s samples scaled by `after`'s total over `before`'s, so
    /// growth and shrinkage are comparable even when the recordings differ in length. Stacks only in
    /// `before` have no width and are not drawn.
    public init(before: [(stack: [String], count: UInt64)], after: [(stack: [String], count: UInt64)], reverse: Bool = false) {
        let totalBefore = before.reduce(UInt64(0)) { $0.addingSaturated($1.count) }
        let totalAfter = after.reduce(UInt64(0)) { $0.addingSaturated($1.count) }
        if totalBefore == .max || totalAfter == .max { saturated = true }
        let scale = totalBefore > 0 ? Double(totalAfter) / Double(totalBefore) : 0
        nodeBefore = [0]
        var path: [Int32] = []
        for (stack, count) in after where count > 0 {
            path = stack.map { internFolded($0) }
            if reverse { path.reverse() }
            add(path, count: count, before: 0)
        }
        for (stack, count) in before where count > 0 {
            path = stack.map { internFolded($0) }
            if reverse { path.reverse() }
            add(path, count: 0, before: Double(count) * scale)
        }
        finish()
    }

    /// The id of a folded frame name: its annotation (`_[k]` …) gives the kind and is removed.
    package mutating func internFolded(_ raw: String) -> Int32 {
        if let id = nameIds[raw] { return id }
        var name = raw
        var kind: FlameFrameKind
        if raw.hasSuffix("_[k]") { kind = .kernel; name.removeLast(4) }
        else if raw.hasSuffix("_[j]") { kind = .jit; name.removeLast(4) }
        else if raw.hasSuffix("_[i]") { kind = .inlined; name.removeLast(4) }
        else if raw.hasSuffix("_[w]") { kind = .native; name.removeLast(4) }
        else { kind = FlameFrameKind.guess(name: raw) }
        // The display name may collide with an unannotated frame; keep them apart by the raw key.
        let id = Int32(names.count)
        names.append(name)
        kinds.append(kind)
        nameIds[raw] = id
        return id
    }

    /// The folded stacks of a profile (as ``FoldedWriter`` writes them, with `folded`'s options).
    public static func foldedStacks(_ profile: Profile, options: FoldedOptions = FoldedOptions()) -> [(stack: [String], count: UInt64)] {
        FoldedWriter.foldedLines(profile, options: options).map { line in
            (line.line.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) },
             line.count)
        }
    }
}
