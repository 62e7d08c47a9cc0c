import ProfileModel

/// One row of a report: the samples attributed to one tuple of sort-key values.
///
/// Fields whose key is not among the sort keys are nil (their values were merged).
public struct ReportEntry: Sendable, Equatable {
    /// The thread's command name (`comm` key).
    public var comm: String?
    /// The process id (`pid` key).
    public var pid: Int32?
    /// The thread id (`tid` key).
    public var tid: Int32?
    /// The shared object's short name (last path component), as perf shows it.
    public var dso: String?
    /// The symbol name (`sym` key), `[unknown]` when unresolved.
    public var symbol: String?
    /// The frame kind of the symbol (only with the `sym` key).
    public var kind: FrameKind?
    /// `file:line`, only with ``ReportOptions/showSourceLine`` and the `sym` key.
    public var sourceLine: String?
    /// Samples whose sampled (leaf) frame belongs to this entry.
    public var selfSamples: UInt64 = 0
    /// Period weight of those samples.
    public var selfWeight: UInt64 = 0
    /// Samples whose stack contains this entry at least once (each stack counted once, even under
    /// recursion). Zero unless children were computed.
    public var childrenSamples: UInt64 = 0
    /// Period weight of those samples.
    public var childrenWeight: UInt64 = 0
}

/// The aggregated, sorted and filtered rows of a report, computed in one pass over the stacks.
///
/// Cost is O(unique stacks) without children and O(total frames of unique stacks) with children or
/// call graphs; all hashing is on integer ids.
public struct OverheadTable: Sendable {
    /// Entries sorted by the overhead column descending (Children in children mode, else Self), ties
    /// broken by self, then by the key values ascending; entries below the percent limit, and entries
    /// without samples or weight in that column, are dropped.
    public let entries: [ReportEntry]
    /// Sum of all stacks' sample counts.
    public let totalSamples: UInt64
    /// Sum of all stacks' weights.
    public let totalWeight: UInt64
    /// The options the table was built with.
    public let options: ReportOptions

    /// For entry `i`, its call-graph members are `memberStack[memberStart[i]..<memberStart[i+1]]` and
    /// the matching positions: the index in the stack where the entry's frame occurs (innermost occurrence).
    let memberStart: [Int]
    let memberStack: [Int32]
    let memberPosition: [Int32]

    /// Aggregates `profile`. Children totals are computed when `options.children` or
    /// `computeChildren` is set; call-graph membership when `options.callGraph` is set.
    public init(profile: Profile, options: ReportOptions, computeChildren: Bool = false) {
        self.options = options
        let keys = options.effectiveKeys
        let keying = EntryKeying(profile: profile, keys: keys, sourceLines: options.showSourceLine)
        let wantChildren = options.children || computeChildren
        let collect = options.callGraph

        var lookup: [UInt64: Int32] = [:]
        var threadClassOfEntry: [Int32] = []
        var frameClassOfEntry: [Int32] = []
        var selfC: [UInt64] = [], selfW: [UInt64] = [], childC: [UInt64] = [], childW: [UInt64] = []
        var stamp: [Int32] = []
        var memEntry: [Int32] = [], memStack: [Int32] = [], memPos: [Int32] = []

        @inline(__always)
        func entry(_ tc: Int32, _ fc: Int32) -> Int32 {
            let key = UInt64(UInt32(bitPattern: tc)) << 32 | UInt64(UInt32(bitPattern: fc))
            if let e = lookup[key] { return e }
            let e = Int32(selfC.count)
            lookup[key] = e
            threadClassOfEntry.append(tc)
            frameClassOfEntry.append(fc)
            selfC.append(0); selfW.append(0); childC.append(0); childW.append(0)
            stamp.append(-1)
            return e
        }

        var totalC: UInt64 = 0, totalW: UInt64 = 0
        for si in profile.stacks.indices {
            let stack = profile.stacks[si]
            totalC = totalC.addingSaturated(stack.samples)
            totalW = totalW.addingSaturated(stack.period)
            let tc = keying.threadClass(of: stack.thread)
            let frames = stack.frames
            let leaf = frames.last.map { keying.frameClass(of: $0) } ?? keying.unknownFrameClass
            let e = Int(entry(tc, leaf))
            selfC[e] = selfC[e].addingSaturated(stack.samples)
            selfW[e] = selfW[e].addingSaturated(stack.period)
            if wantChildren {
                let stackId = Int32(truncatingIfNeeded: si)
                if frames.isEmpty {
                    stamp[e] = stackId
                    childC[e] = childC[e].addingSaturated(stack.samples)
                    childW[e] = childW[e].addingSaturated(stack.period)
                    if collect && options.children {
                        memEntry.append(Int32(e)); memStack.append(stackId); memPos.append(-1)
                    }
                }
                var p = frames.count - 1
                while p >= 0 {
                    let ce = Int(entry(tc, keying.frameClass(of: frames[p])))
                    if stamp[ce] != stackId {
                        stamp[ce] = stackId
                        childC[ce] = childC[ce].addingSaturated(stack.samples)
                        childW[ce] = childW[ce].addingSaturated(stack.period)
                        if collect && options.children {
                            memEntry.append(Int32(ce)); memStack.append(stackId); memPos.append(Int32(p))
                        }
                    }
                    p -= 1
                }
            }
            if collect && !options.children {
                memEntry.append(Int32(e)); memStack.append(Int32(truncatingIfNeeded: si))
                memPos.append(Int32(frames.count - 1))
            }
        }
        totalSamples = totalC
        totalWeight = totalW

        // Build display values for every raw entry.
        let useComm = keys.contains(.comm), usePid = keys.contains(.pid), useTid = keys.contains(.tid)
        let useDSO = keys.contains(.dso), useSym = keys.contains(.sym)
        let dsoNames = DSONames(profile)
        var raw: [ReportEntry] = []
        raw.reserveCapacity(selfC.count)
        for e in selfC.indices {
            let thread = profile.threadOrUnknown(keying.threadRepresentative[Int(threadClassOfEntry[e])])
            let frame = profile.frameOrUnknown(keying.frameRepresentative[Int(frameClassOfEntry[e])])
            var r = ReportEntry()
            if useComm { r.comm = thread.comm }
            if usePid { r.pid = thread.pid }
            if useTid { r.tid = thread.tid }
            if useDSO { r.dso = dsoNames.name(of: frame.dso) }
            if useSym {
                r.symbol = frame.symbol
                r.kind = frame.kind
                if options.showSourceLine { r.sourceLine = frame.source?.description }
            }
            r.selfSamples = selfC[e]; r.selfWeight = selfW[e]
            r.childrenSamples = childC[e]; r.childrenWeight = childW[e]
            raw.append(r)
        }

        // Sort and filter.
        let useWeight = options.useWeight
        let byChildren = options.children
        func metric(_ r: ReportEntry) -> UInt64 {
            byChildren ? (useWeight ? r.childrenWeight : r.childrenSamples) : (useWeight ? r.selfWeight : r.selfSamples)
        }
        func selfMetric(_ r: ReportEntry) -> UInt64 { useWeight ? r.selfWeight : r.selfSamples }
        let total = useWeight ? totalW : totalC
        var order = Array(raw.indices).filter {
            let r = raw[$0]
            let empty = byChildren
                ? r.childrenSamples == 0 && r.childrenWeight == 0
                : r.selfSamples == 0 && r.selfWeight == 0
            return !empty && percent(metric(r), of: total) >= options.percentLimit
        }
        order.sort { a, b in
            let ra = raw[a], rb = raw[b]
            let ma = metric(ra), mb = metric(rb)
            if ma != mb { return ma > mb }
            let sa = selfMetric(ra), sb = selfMetric(rb)
            if sa != sb { return sa > sb }
            for key in keys {
                switch key {
                case .comm: if ra.comm != rb.comm { return (ra.comm ?? "") < (rb.comm ?? "") }
                case .pid: if ra.pid != rb.pid { return (ra.pid ?? 0) < (rb.pid ?? 0) }
                case .tid: if ra.tid != rb.tid { return (ra.tid ?? 0) < (rb.tid ?? 0) }
                case .dso: if ra.dso != rb.dso { return (ra.dso ?? "") < (rb.dso ?? "") }
                case .sym:
                    if ra.symbol != rb.symbol { return (ra.symbol ?? "") < (rb.symbol ?? "") }
                    if ra.kind != rb.kind { return (ra.kind?.rawValue ?? 0) < (rb.kind?.rawValue ?? 0) }
                    if ra.sourceLine != rb.sourceLine { return (ra.sourceLine ?? "") < (rb.sourceLine ?? "") }
                }
            }
            return a < b
        }
        entries = order.map { raw[$0] }

        // Bucket call-graph members by their entry's final position (counting sort).
        var remap = [Int32](repeating: -1, count: raw.count)
        for (newIndex, old) in order.enumerated() { remap[old] = Int32(newIndex) }
        var start = [Int](repeating: 0, count: order.count + 1)
        for e in memEntry where remap[Int(e)] >= 0 { start[Int(remap[Int(e)]) + 1] += 1 }
        for i in 0..<order.count { start[i + 1] += start[i] }
        var fill = start
        var stacksOut = [Int32](repeating: 0, count: start[order.count])
        var posOut = [Int32](repeating: 0, count: start[order.count])
        for k in memEntry.indices {
            let r = remap[Int(memEntry[k])]
            guard r >= 0 else { continue }
            let slot = fill[Int(r)]
            fill[Int(r)] += 1
            stacksOut[slot] = memStack[k]
            posOut[slot] = memPos[k]
        }
        memberStart = start
        memberStack = stacksOut
        memberPosition = posOut
    }

    /// The total the percentages are relative to (weight or samples, per ``ReportOptions/useWeight``).
    public var total: UInt64 { options.useWeight ? totalWeight : totalSamples }

    /// The entry's self share of the total, in percent.
    public func selfPercent(_ entry: ReportEntry) -> Double {
        percent(options.useWeight ? entry.selfWeight : entry.selfSamples, of: total)
    }

    /// The entry's inclusive (children) share of the total, in percent.
    public func childrenPercent(_ entry: ReportEntry) -> Double {
        percent(options.useWeight ? entry.childrenWeight : entry.childrenSamples, of: total)
    }
}

/// `value / total` in percent; 0 when the total is 0.
@inline(__always)
func percent(_ value: UInt64, of total: UInt64) -> Double {
    total == 0 ? 0 : Double(value) * 100 / Double(total)
}
