import PerfEvents
import PerfRecords
import Symbolication
import Unwinding

/// Turns a perf.data file into a ``Profile``: replays the records in time order through the
/// process model, aggregates samples into a stack trie of resolved locations, then symbolizes
/// each unique location once.
public final class ProfileBuilder {
    /// A sampled address after mapping resolution: a DSO and file offset, a kernel address, or
    /// an address no mapping covered.
    private struct Location {
        enum Kind: UInt8 { case user, kernel, unmapped, truncated, label, jit }
        var kind: Kind
        var dso: Int32
        var address: UInt64
    }

    private let file: PerfDataFile
    private let decoder: RecordDecoder
    private let symbolizer: AddressSymbolizer
    private let model = ProcessModel()
    @exclusivity(unchecked) private var trie = StackTrie()
    @exclusivity(unchecked) private var stackCache = StackCache()
    @exclusivity(unchecked) private var locations: [Location] = []
    @exclusivity(unchecked) private var locationIDs = WordPairTable(capacity: 4096)
    @exclusivity(unchecked) private var threadIDs: [ThreadKey: Int32] = [:]
    @exclusivity(unchecked) private var threads: [ThreadKey] = []
    @exclusivity(unchecked) private var commNames: [String] = []
    @exclusivity(unchecked) private var commIDs: [String: Int32] = [:]
    /// The current name of each thread, as an index into `commNames`.
    @exclusivity(unchecked) private var currentComm: [Int32: Int32] = [:]

    /// A thread under one name: samples taken before and after an exec or a rename are told apart.
    private struct ThreadKey: Hashable {
        var pid: Int32
        var tid: Int32
        var comm: Int32
        /// The CPU, when the builder keeps samples apart by CPU; else -1.
        var cpu: Int32 = -1
    }
    /// Samples per (thread, stack node): `countIndex` maps the pair to its row in the arrays.
    @exclusivity(unchecked) private var countIndex = WordPairTable(capacity: 4096)
    @exclusivity(unchecked) private var countKeys: [UInt64] = []
    @exclusivity(unchecked) private var countSamples: [UInt64] = []
    @exclusivity(unchecked) private var countWeights: [UInt64] = []
    @exclusivity(unchecked) private var scratch: [Int32] = []
    @exclusivity(unchecked) private var summary: RecordingSummary

    // MARK: Unwinding state

    /// How user frames are obtained, decided from the first event's attributes.
    private enum UnwindMode {
        /// The kernel's chain (or the sampled ip) as recorded.
        case chain
        /// The kernel's frame-pointer chain with the leaf's caller recovered from CFI.
        case leafRepair
        /// User frames unwound from the stack copy; kernel frames from the chain.
        case dwarf
        /// DWARF inside the copy, the frame-pointer chain beyond it and where CFI is missing.
        case auto
    }
    private let unwindMode: UnwindMode
    private let registerMask: UInt64
    private let stackCopySize: UInt32
    private var unwinder = Unwinder()
    @exclusivity(unchecked) private var kernelChain: [UInt64] = []
    @exclusivity(unchecked) private var userChain: [UInt64] = []
    @exclusivity(unchecked) private var unwound: [UInt64] = []
    /// Samples whose user stack was unwound from the copy (auto: DWARF frames used).
    @exclusivity(unchecked) private var dwarfSamples: UInt64 = 0
    @exclusivity(unchecked) private var unwindAttempts: UInt64 = 0
    @exclusivity(unchecked) private var truncatedSamples: UInt64 = 0
    @exclusivity(unchecked) private var noUnwindInfoSamples: UInt64 = 0
    @exclusivity(unchecked) private var repairedSamples: UInt64 = 0

    /// What a stack's weight measures.
    public enum Weighting: Sendable {
        /// On-CPU samples of the recording's first event (the default report).
        case onCPU
        /// Nanoseconds between each switch-out and the next switch-in of the same thread, on
        /// the stack where it switched out (from the context-switches event) when recorded.
        case offCPU
        /// Both, under `[on-cpu]` and `[off-cpu]` roots, in nanoseconds.
        case onAndOffCPU
    }

    private let weighting: Weighting
    /// The `context-switches` event sampled at every switch-out, if the file has one besides the first.
    private let switchEvent: Int?
    @exclusivity(unchecked) private var switchOutTime: [Int32: (pid: Int32, time: UInt64)] = [:]
    @exclusivity(unchecked) private var switchOutNode: [Int32: Int32] = [:]
    @exclusivity(unchecked) private var offCPUIntervals: UInt64 = 0
    @exclusivity(unchecked) private var offCPUWithoutStack: UInt64 = 0
    /// The last thread looked up, for the common run of samples from one thread.
    @exclusivity(unchecked) private var lastThread: (pid: Int32, tid: Int32, cpu: Int32, id: Int32)?
    /// Whether each DSO is anonymous memory (where JITs put code), filled as DSOs appear.
    @exclusivity(unchecked) private var anonymousDSOs: [Bool] = []
    /// DSOs (and the kernel) whose symbols the symbolizer was asked to load ahead.
    private var preparedDSOs: [Bool] = []
    private var kernelPrepared = false
    /// JIT symbol maps (`/tmp/perf-PID.map`) by process, loaded on first need.
    private var jitMaps: [Int32: PerfMapSymbols?] = [:]
    /// The process of the sample being resolved.
    @exclusivity(unchecked) private var currentPID: Int32 = -1
    /// Labels of synthetic frames (`[on-cpu]`, `[off-cpu]`, ...), by location address.
    private var labels: [String] = []

    /// Keep samples of different CPUs apart (for `--cpu`); each ``ThreadInfo`` then has its `cpu`.
    private let splitByCPU: Bool

    public init(file: PerfDataFile, symbolizer: AddressSymbolizer, weighting: Weighting = .onCPU, splitByCPU: Bool = false) {
        self.weighting = weighting
        self.splitByCPU = splitByCPU
        let switchIndex = file.events.indices.dropFirst().first { file.events[$0].attributes.kind == .contextSwitches }
        self.switchEvent = switchIndex
        self.file = file
        self.decoder = RecordDecoder(events: file.events)
        self.symbolizer = symbolizer
        let attributes = file.events[0].attributes
        summary = RecordingSummary(event: file.events[0].name, frequency: attributes.frequency, period: attributes.period)
        summary.callGraph = attributes.sampleType.contains(.callchain) ? "fp" : "none"
        registerMask = attributes.sampleRegsUser
        stackCopySize = attributes.sampleStackUser
        let hasChain = attributes.sampleType.contains(.callchain)
        if attributes.sampleType.isSuperset(of: [.regsUser, .stackUser]), attributes.sampleRegsUser != 0, attributes.sampleStackUser > 0 {
            if !hasChain || attributes.flags.contains(.excludeCallchainUser) {
                unwindMode = .dwarf
            } else if attributes.sampleStackUser <= CallGraphMode.leafRepairStackSize {
                unwindMode = .leafRepair
            } else {
                unwindMode = .auto
            }
        } else {
            unwindMode = .chain
        }
        summary.commandLine = file.features.commandLine?.joined(separator: " ")
        if attributes.flags.contains(.excludeKernel) {
            summary.notes.append("kernel code was not sampled (exclude_kernel): kernel frames are absent")
        }
        scratch.reserveCapacity(512)
    }

    /// Reads every record and returns the aggregated, symbolized profile.
    public func build() throws -> Profile {
        try forEachRecordInTimeOrder { process($0) }
        return makeProfile()
    }

    /// Calls `body` with every record in timestamp order (ties, and records without a time, in
    /// file order), in one pass over the file.
    ///
    /// Recorders write the rings out in passes and mark each pass's end with FINISHED_ROUND: a
    /// record written after a pass's marker has a time no earlier than everything written before
    /// the marker of the pass before it (perf's ordered-events rule). So at each marker the records
    /// up to the previous pass's latest time are sorted and handed on, while they are still in the
    /// cache; the rest wait for the next marker. A file without markers is sorted whole at its end.
    /// The file's pages are released behind the scan and behind the records handed on (read again
    /// from the page cache if a waiting record needs them), so memory stays flat however large the
    /// file, with or without markers.
    private func forEachRecordInTimeOrder(_ body: (UnsafeRawBufferPointer) -> Void) throws {
        let bytes = file.dataBytes
        // Where the time sits in each event's samples: after identifier, ip and pid/tid.
        let timeOffsets: [Int?] = file.events.map { event in
            let sampleType = event.attributes.sampleType
            guard sampleType.contains(.time) else { return nil }
            return 8 + [SampleType.identifier, .ip, .tid].filter { sampleType.contains($0) }.count * 8
        }
        var waiting: [(time: UInt64, offset: Int)] = []
        var waitingInOrder = true
        var latestTime: UInt64 = 0
        var previousPassLatest: UInt64 = 0
        // Pages are released in steps of this size: behind the scan, and again behind the records
        // handed on (a waiting record reads its pages back from the page cache).
        let releaseStep = 4 << 20
        var released = 0
        var scanned = 0

        func handOn(upTo limit: UInt64?) {
            if !waitingInOrder {
                // (time, offset) is a total order, so an unstable sort keeps file order on ties.
                waiting.sort { $0.time != $1.time ? $0.time < $1.time : $0.offset < $1.offset }
                waitingInOrder = true
            }
            var count = 0
            while count < waiting.count, limit.map({ waiting[count].time <= $0 }) ?? true { count += 1 }
            // Below the lowest offset still to come, no record will be read again.
            var lowestAhead = [Int](repeating: Int.max, count: count + 1)
            lowestAhead[count] = waiting[count...].lazy.map(\.offset).min() ?? Int.max
            for index in stride(from: count - 1, through: 0, by: -1) {
                lowestAhead[index] = min(waiting[index].offset, lowestAhead[index + 1])
            }
            for index in 0..<count {
                let offset = waiting[index].offset
                let size = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self)))
                body(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size]))
                release(below: lowestAhead[index + 1])
            }
            waiting.removeFirst(count)
        }

        func release(below offset: Int) {
            if offset != Int.max, offset - released >= releaseStep {
                file.releaseData(below: offset)
                released = offset
            }
        }

        try file.forEachRecord { record, offset in
            let type = RecordDecoder.type(of: record)
            if type == RecordType.finishedRound.rawValue {
                handOn(upTo: previousPassLatest)
                previousPassLatest = latestTime
                return
            }
            if offset - scanned >= releaseStep {
                file.releaseData(below: offset)
                scanned = offset
            }
            var time = latestTime
            if type == RecordType.sample.rawValue {
                if let at = timeOffsets[decoder.eventIndex(of: record)], record.count >= at + 8 {
                    time = UInt64(littleEndian: record.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                }
            } else if type < 64, let trailer = try? decoder.trailer(record, attributes: file.events[decoder.eventIndex(of: record)].attributes),
                      trailer.hasTime, trailer.time != 0 {
                time = trailer.time
            }
            if let last = waiting.last, time < last.time { waitingInOrder = false }
            latestTime = max(latestTime, time)
            waiting.append((time, offset))
        }
        handOn(upTo: nil)
    }

    private func processSample(_ sample: SampleRecord, record: UnsafeRawBufferPointer) {
        let fromSwitchEvent = switchEvent != nil && decoder.eventIndex(of: record) == switchEvent
        switch (weighting, fromSwitchEvent) {
        case (.onCPU, false):
            add(sample)
        case (.onAndOffCPU, false):
            add(sample, root: label("[on-cpu]"))
        case (.offCPU, true), (.onAndOffCPU, true):
            switchOutNode[sample.tid] = stackNode(for: sample, root: weighting == .onAndOffCPU ? label("[off-cpu]") : nil)
        case (.offCPU, false), (.onCPU, true):
            break  // not what this weighting measures
        }
    }

    private func process(_ record: UnsafeRawBufferPointer) {
        if RecordDecoder.type(of: record) == RecordType.sample.rawValue {
            do {
                processSample(try decoder.decodeSample(record), record: record)
            } catch {
                summary.malformedRecords += 1
            }
            return
        }
        let decoded: Record
        do {
            decoded = try decoder.decode(record)
        } catch {
            summary.malformedRecords += 1
            return
        }
        switch decoded {
        case .sample(let sample):
            processSample(sample, record: record)
        case .mmap(let mmap):
            guard mmap.pid != -1 else { return }  // kernel maps: kallsyms covers them
            stackCache.invalidate()
            model.mmap(pid: mmap.pid, start: mmap.start, length: mmap.length, pageOffset: mmap.pageOffset,
                       path: mmap.filename, buildID: mmap.buildID.map(Array.init))
        case .comm(let comm):
            model.comm(pid: comm.pid, tid: comm.tid, name: comm.name, exec: comm.isExec)
            stackCache.invalidate()
            currentComm[comm.tid] = commID(comm.name)
            lastThread = nil
        case .fork(let task):
            model.fork(pid: task.pid, parentPID: task.parentPID, tid: task.tid, parentTID: task.parentTID)
            stackCache.invalidate()
            if let parent = currentComm[task.parentTID] ?? currentComm[task.parentPID] { currentComm[task.tid] = parent }
            lastThread = nil
        case .lost(_, let count, _):
            summary.lostRecords += count
        case .lostSamples(let count, _):
            summary.lostSamples += count
        case .throttle:
            summary.throttleEvents += 1
        case .unthrottle:
            summary.unthrottleEvents += 1
        case .contextSwitch(let change):
            guard weighting != .onCPU, change.sampleID.tid > 0 else { return }
            let tid = change.sampleID.tid
            if change.isOut {
                switchOutTime[tid] = (change.sampleID.pid, change.sampleID.time)
            } else if let out = switchOutTime.removeValue(forKey: tid) {
                let node: Int32
                if let stack = switchOutNode.removeValue(forKey: tid) {
                    node = stack
                } else {
                    offCPUWithoutStack += 1
                    let root: Int32 = weighting == .onAndOffCPU ? trie.child(of: 0, location: label("[off-cpu]")) : 0
                    node = trie.child(of: root, location: label(switchEvent == nil ? "[blocked: no switch stacks recorded]" : "[blocked: stack not sampled]"))
                }
                offCPUIntervals += 1
                count(pid: out.pid, tid: tid, cpu: Int32(bitPattern: change.sampleID.cpu), node: node, weight: change.sampleID.time &- out.time)
            }
        case .exit, .finishedRound, .other:
            break
        }
    }

    private func add(_ sample: SampleRecord, root: Int32? = nil) {
        summary.sampleCount += 1
        count(pid: sample.pid, tid: sample.tid, cpu: Int32(bitPattern: sample.cpu), node: stackNode(for: sample, root: root), weight: sample.period)
    }

    private func count(pid: Int32, tid: Int32, cpu: Int32, node: Int32, weight: UInt64) {
        let key = UInt64(UInt32(bitPattern: thread(pid: pid, tid: tid, cpu: cpu))) << 32 | UInt64(UInt32(bitPattern: node))
        if let row = countIndex.find(key, 0) {
            countSamples[Int(row)] += 1
            countWeights[Int(row)] &+= weight
        } else {
            countIndex.insert(key, 0, value: Int32(countKeys.count))
            countKeys.append(key)
            countSamples.append(1)
            countWeights.append(weight)
        }
    }

    /// A synthetic frame such as `[on-cpu]`.
    private func label(_ text: String) -> Int32 {
        let index = labels.firstIndex(of: text) ?? { labels.append(text); return labels.count - 1 }()
        let location = Location(kind: .label, dso: -1, address: UInt64(index))
        return intern(location)
    }

    /// The trie node of a sample's stack (kernel frames innermost, then user frames), under `root`.
    private func stackNode(for sample: SampleRecord, root: Int32?) -> Int32 {
        guard unwindMode == .chain else { return resolveStack(of: sample, root: root) }
        // The stack is a function of these words (and of the address spaces, which invalidate the cache).
        let header = (UInt64(UInt32(bitPattern: sample.pid)) << 32 | UInt64(sample.misc.rawValue & RecordMisc.cpuModeMask),
                      UInt64(UInt32(bitPattern: root ?? -1)), sample.callchain.isEmpty ? sample.ip : 0)
        return stackCache.node(header: header, chain: sample.callchain) { resolveStack(of: sample, root: root) }
    }

    /// Resolves each frame of a sample's stack and walks the trie down to its node.
    private func resolveStack(of sample: SampleRecord, root: Int32?) -> Int32 {
        currentPID = sample.pid
        let space = model.spaceIfKnown(of: sample.pid)
        scratch.removeAll(keepingCapacity: true)
        kernelChain.removeAll(keepingCapacity: true)
        userChain.removeAll(keepingCapacity: true)
        var inKernel = sample.misc.cpuMode == .kernel || sample.misc.cpuMode == .hypervisor
        if sample.callchain.isEmpty {
            if inKernel { kernelChain.append(sample.ip) } else { userChain.append(sample.ip) }
        } else {
            for address in sample.callchain {
                if address >= CallchainContext.markerThreshold {
                    inKernel = address == CallchainContext.kernel.rawValue || address == CallchainContext.hypervisor.rawValue
                    continue
                }
                if inKernel { kernelChain.append(address) } else { userChain.append(address) }
            }
        }
        let truncated = unwindUserStack(sample, space: space)
        // Kernel frames first (innermost), then the user frames, the sampled frame exact.
        var first = true
        for address in kernelChain {
            scratch.append(locate(address, kernel: true, exact: first, space: space))
            first = false
        }
        for address in userChain {
            scratch.append(locate(address, kernel: false, exact: first, space: space))
            first = false
        }
        if truncated { scratch.append(truncatedLocation()) }
        var node: Int32 = root.map { trie.child(of: 0, location: $0) } ?? 0
        for location in scratch.reversed() {
            node = trie.child(of: node, location: location)
        }
        return node
    }

    /// Replaces or repairs `userChain` from the sample's registers and stack copy, per
    /// `unwindMode`. Returns whether the stack ran past the end of the copy (marked truncated).
    private func unwindUserStack(_ sample: SampleRecord, space: AddressSpace?) -> Bool {
        // 64-bit register sets only (ABI 2); 32-bit tasks and kernel threads keep the chain.
        guard unwindMode != .chain, sample.userRegisterABI == 2, !sample.userRegisters.isEmpty, let space else { return false }
        let view = ModelSpace(space: space, model: model)
        switch unwindMode {
        case .chain:
            return false
        case .leafRepair:
            guard let pc = userChain.first, let caller = unwinder.leafCaller(
                registers: sample.userRegisters, registerMask: registerMask, stack: sample.userStack,
                space: view, chainPC: pc, chainCaller: userChain.count > 1 ? userChain[1] : nil) else { return false }
            userChain.insert(caller, at: 1)
            repairedSamples += 1
            return false
        case .dwarf:
            unwindAttempts += 1
            unwound.removeAll(keepingCapacity: true)
            let stop = unwinder.unwind(registers: sample.userRegisters, registerMask: registerMask,
                                       stack: sample.userStack, space: view, into: &unwound)
            guard !unwound.isEmpty else { return false }
            swap(&userChain, &unwound)
            dwarfSamples += 1
            if stop == .noUnwindInfo { noUnwindInfoSamples += 1 }
            if stop == .truncated { truncatedSamples += 1 }
            return stop == .truncated
        case .auto:
            unwindAttempts += 1
            unwound.removeAll(keepingCapacity: true)
            let stop = unwinder.unwind(registers: sample.userRegisters, registerMask: registerMask,
                                       stack: sample.userStack, space: view, into: &unwound)
            // No CFI for the sampled code itself (JIT, [vdso]): the frame-pointer chain is all there is.
            guard unwound.count > 1 || (stop == .complete && !unwound.isEmpty) else { return false }
            dwarfSamples += 1
            if stop != .complete, let last = unwound.last, userChain.count > 1,
               let joint = userChain[1...].lastIndex(of: last) {
                // The frame-pointer chain goes on from the last unwound frame.
                unwound.append(contentsOf: userChain[(joint + 1)...])
                swap(&userChain, &unwound)
                return false
            }
            swap(&userChain, &unwound)
            if stop == .noUnwindInfo { noUnwindInfoSamples += 1 }
            if stop == .truncated { truncatedSamples += 1 }
            return stop == .truncated
        }
    }

    /// The id of a location, assigned on first sight.
    private func intern(_ location: Location) -> Int32 {
        let meta = UInt64(location.kind.rawValue) << 32 | UInt64(UInt32(bitPattern: location.dso))
        if let id = locationIDs.find(meta, location.address) { return id }
        let id = Int32(locations.count)
        locations.append(location)
        locationIDs.insert(meta, location.address, value: id)
        prepareSymbols(for: location)
        return id
    }

    /// Lets the symbolizer load what a new location will need while the samples are still
    /// being read: each sampled DSO, and kallsyms, once.
    private func prepareSymbols(for location: Location) {
        switch location.kind {
        case .kernel:
            if !kernelPrepared {
                kernelPrepared = true
                symbolizer.prepareKernel()
            }
        case .user:
            let dso = Int(location.dso)
            if dso >= preparedDSOs.count { preparedDSOs += repeatElement(false, count: dso + 1 - preparedDSOs.count) }
            if !preparedDSOs[dso] {
                preparedDSOs[dso] = true
                symbolizer.prepare(path: model.dsos[dso])
            }
        case .unmapped, .truncated, .label, .jit:
            break
        }
    }

    private func truncatedLocation() -> Int32 {
        let location = Location(kind: .truncated, dso: -1, address: 0)
        return intern(location)
    }

    /// Notes and the call-graph description, once every sample is in.
    private func summarizeUnwinding(into summary: inout RecordingSummary) {
        func percent(_ part: UInt64, of whole: UInt64) -> String {
            let value = whole == 0 ? 0 : Double(part) * 100 / Double(whole)
            if part > 0 && value < 0.1 { return "<0.1" }
            return value >= 10 || value == 0 ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
        }
        switch unwindMode {
        case .chain:
            return
        case .leafRepair:
            if repairedSamples > 0 {
                summary.callGraph = "fp (leaf frames repaired in \(percent(repairedSamples, of: summary.sampleCount))% of samples)"
            }
        case .dwarf:
            summary.callGraph = stackCopySize == CallGraphMode.defaultDWARFStackSize ? "dwarf" : "dwarf,\(stackCopySize)"
        case .auto:
            summary.callGraph = "auto (dwarf for \(percent(dwarfSamples, of: summary.sampleCount))% of samples)"
        }
        if truncatedSamples > 0 {
            summary.notes.append("\(percent(truncatedSamples, of: unwindAttempts))% of user stacks (\(truncatedSamples) of \(unwindAttempts)) went deeper than the \(stackCopySize)-byte stack copy and end in [truncated]; record with --call-graph dwarf,\(CallGraphMode.maximumStackSize) to see more")
        }
        if noUnwindInfoSamples * 100 > max(unwindAttempts, 1) {
            summary.notes.append("\(percent(noUnwindInfoSamples, of: unwindAttempts))% of user stacks stop in code without unwind tables (JIT code, [vdso], or a binary that changed since the recording)")
        }
    }

    /// Resolves an address to a location id. Return addresses (every frame but the sampled
    /// one) are looked up at `address - 1`, so calls at the end of a function stay in it.
    private func locate(_ address: UInt64, kernel: Bool, exact: Bool, space: AddressSpace?) -> Int32 {
        let lookup = exact ? address : address &- 1
        let location: Location
        if kernel {
            location = Location(kind: .kernel, dso: -1, address: lookup)
        } else if let mapping = space?.find(lookup), !isAnonymous(mapping.dso) {
            location = Location(kind: .user, dso: mapping.dso, address: lookup - mapping.start + mapping.pageOffset)
        } else if jitSymbols(of: currentPID)?.lookup(lookup) != nil {
            location = Location(kind: .jit, dso: currentPID, address: lookup)
        } else if let mapping = space?.find(lookup) {
            location = Location(kind: .user, dso: mapping.dso, address: lookup - mapping.start + mapping.pageOffset)
        } else {
            location = Location(kind: .unmapped, dso: -1, address: lookup)
        }
        return intern(location)
    }

    /// Anonymous executable memory is where JITs put code.
    private func isAnonymous(_ dso: Int32) -> Bool {
        while anonymousDSOs.count < model.dsos.count {
            let path = model.dsos[anonymousDSOs.count]
            anonymousDSOs.append(path == "//anon" || path.hasPrefix("[anon") || path.hasPrefix("/memfd:") || path == "[heap]")
        }
        return anonymousDSOs[Int(dso)]
    }

    private func jitSymbols(of pid: Int32) -> PerfMapSymbols? {
        if let cached = jitMaps[pid] { return cached }
        let map = PerfMapSymbols(pid: pid)
        jitMaps[pid] = .some(map)
        return map
    }

    private func thread(pid: Int32, tid: Int32, cpu: Int32) -> Int32 {
        // Consecutive samples usually come from the same thread: skip the lookups then. Any
        // COMM or FORK record clears this, since it may rename the thread.
        let cpuKey = splitByCPU ? cpu : -1
        if let last = lastThread, last.pid == pid, last.tid == tid, last.cpu == cpuKey { return last.id }
        let comm = currentComm[tid] ?? commID(model.name(ofThread: tid, pid: pid))
        let key = ThreadKey(pid: pid, tid: tid, comm: comm, cpu: cpuKey)
        let id: Int32
        if let existing = threadIDs[key] {
            id = existing
        } else {
            id = Int32(threads.count)
            threads.append(key)
            threadIDs[key] = id
        }
        lastThread = (pid, tid, cpuKey, id)
        return id
    }

    private func commID(_ name: String) -> Int32 {
        if let id = commIDs[name] { return id }
        let id = Int32(commNames.count)
        commNames.append(name)
        commIDs[name] = id
        return id
    }

    // MARK: - Symbolization

    private func makeProfile() -> Profile {
        summarizeUnwinding(into: &summary)
        if weighting != .onCPU {
            summary.event = weighting == .offCPU ? "off-cpu (ns blocked)" : "on-cpu + off-cpu (ns)"
            if weighting == .offCPU { summary.frequency = nil; summary.sampleCount = offCPUIntervals }
            if offCPUIntervals == 0 {
                summary.notes.append("no context-switch records in this recording: record with perch sched record, or perch record --switches")
            } else if switchEvent == nil {
                summary.notes.append("switch-out stacks were not recorded (the context-switches event never counts with exclude_kernel=1 at kernel.perf_event_paranoid=2 without CAP_PERFMON): off-CPU time is per thread, without stacks; to get them: sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)")
            }
        }
        var profile = Profile(summary: summary)
        var frameIDs: [Frame: Int32] = [:]
        func intern(_ frame: Frame) -> Int32 {
            if let id = frameIDs[frame] { return id }
            let id = Int32(profile.frames.count)
            profile.frames.append(frame)
            frameIDs[frame] = id
            return id
        }
        let usable = checkBuildIDs(into: &profile.summary)
        // Each unique location is symbolized once; inline expansions are outermost first.
        let expanded: [[Int32]] = locations.map { location in
            switch location.kind {
            case .kernel:
                if let resolved = symbolizer.symbolizeKernel(address: location.address) {
                    let dso = resolved.module.map { "[\($0)]" } ?? "[kernel.kallsyms]"
                    return [intern(Frame(symbol: resolved.frame.function, dso: dso, kind: .kernel, address: location.address))]
                }
                return [intern(Frame(symbol: Frame.unknownSymbol, dso: "[kernel.kallsyms]", kind: .kernel, address: location.address))]
            case .unmapped:
                return [intern(Frame(symbol: Frame.unknownSymbol, dso: Frame.unknownSymbol, kind: .user, address: location.address))]
            case .truncated:
                return [intern(Frame(symbol: "[truncated]", dso: Frame.unknownSymbol, kind: .user))]
            case .jit:
                let name = jitMaps[location.dso]??.lookup(location.address) ?? Frame.unknownSymbol
                return [intern(Frame(symbol: name, dso: "/tmp/perf-\(location.dso).map", kind: .jit, address: location.address))]
            case .label:
                return [intern(Frame(symbol: labels[Int(location.address)], dso: "[perch]", kind: .user))]
            case .user:
                let path = model.dsos[Int(location.dso)]
                let symbolized = usable[Int(location.dso)] ? symbolizer.symbolize(path: path, fileOffset: location.address) : []
                if symbolized.isEmpty {
                    return [intern(Frame(symbol: Frame.unknownSymbol, dso: path, kind: .user, address: location.address))]
                }
                return symbolized.reversed().map { frame in
                    let line = frame.sourceFile.map { file in frame.line.map { "\(file):\($0)" } ?? file }
                    let name = frame.function == "??" || frame.function.isEmpty ? Frame.unknownSymbol : frame.function
                    return intern(Frame(symbol: name, dso: path, kind: frame.isInlined ? .inlined : .user,
                                        address: location.address, sourceLine: line))
                }
            }
        }
        profile.threads = threads.map {
            var info = ThreadInfo(pid: $0.pid, tid: $0.tid, comm: commNames[Int($0.comm)])
            if $0.cpu >= 0 { info.cpu = $0.cpu }
            return info
        }
        profile.stacks.reserveCapacity(countKeys.count)
        for (row, key) in countKeys.enumerated() {
            let value = (count: countSamples[row], weight: countWeights[row])
            let thread = Int32(truncatingIfNeeded: key >> 32)
            let node = Int32(truncatingIfNeeded: key & 0xffff_ffff)
            let frames = trie.path(to: node).flatMap { expanded[Int($0)] }
            profile.stacks.append(StackSample(thread: thread, frames: frames, count: value.count, weight: value.weight))
        }
        profile.stacks.sort { $0.weight != $1.weight ? $0.weight > $1.weight : $0.thread < $1.thread }
        return profile
    }

    /// Whether each DSO's file on disk is the one recorded; mismatches are noted and not symbolized.
    private func checkBuildIDs(into summary: inout RecordingSummary) -> [Bool] {
        var usable = [Bool](repeating: true, count: model.dsos.count)
        for (dso, recorded) in model.dsoBuildIDs {
            let path = model.dsos[Int(dso)]
            guard let current = ELFImage.readBuildID(path: path), current != recorded else { continue }
            usable[Int(dso)] = false
            summary.notes.append("\(path) changed since the recording (build id \(hex(recorded)) recorded, \(hex(current)) on disk): its samples are shown as [unknown]")
        }
        return usable
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// The process model's view of one address space, as the unwinder asks for it.
private struct ModelSpace: UnwindAddressSpace {
    let space: AddressSpace
    let model: ProcessModel

    func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? {
        guard let mapping = space.find(address) else { return nil }
        return (mapping.dso, address - mapping.start + mapping.pageOffset)
    }

    func path(ofModule module: Int32) -> String { model.dsos[Int(module)] }

    func buildID(ofModule module: Int32) -> [UInt8]? { model.dsoBuildIDs[module] }
}
