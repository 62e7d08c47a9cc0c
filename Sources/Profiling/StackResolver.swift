import PerfABI
import ProfileModel
import Symbolication
import Unwinding

/// Turns each sample's raw stack into a node of one prefix tree of locations: splits the kernel's
/// chain into kernel and user frames, unwinds or repairs the user part, resolves every address
/// against the process model at the sample's time (DSO and file offset, JIT map, unmapped), and
/// walks the tree. A chain resolved before is found again in the ``StackCache``.
struct StackResolver {
    /// Unique stacks: keys are location ids, outermost caller first.
    private(set) var tree = PrefixTree()
    private(set) var locations = LocationTable()
    /// Texts of synthetic frames (`[on-cpu]`, `[off-cpu]`, ...), by ``Location/label`` index.
    private(set) var labels: [String] = []
    private(set) var jitMaps = JITMaps()
    private(set) var unwinder: UserStackUnwinder
    private var cache = StackCache()
    private var syscallReturns = SyscallReturnPoints()
    private var stitcher = StackStitcher()
    private let symbolizer: AddressSymbolizer
    /// DSOs (and the kernel) whose symbols the symbolizer was asked to load ahead.
    private var preparedDSOs: [Bool] = []
    private var kernelPrepared = false
    /// Whether each DSO is anonymous memory (where JITs put code), filled as DSOs appear.
    private var anonymousDSOs: [Bool] = []
    private var kernelChain: [UInt64] = []
    private var userChain: [UInt64] = []
    private var scratch: [Int32] = []
    /// The frames of the stack being resolved that the stitcher remembers, outermost first.
    private var remembered: [StackStitcher.Frame] = []

    init(interpretation: RecordingInterpretation, symbolizer: AddressSymbolizer) {
        unwinder = UserStackUnwinder(interpretation)
        self.symbolizer = symbolizer
        scratch.reserveCapacity(512)
    }

    /// Address spaces changed (MMAP, COMM exec, FORK): cached stacks are resolved again.
    mutating func addressSpacesChanged() {
        cache.invalidate()
    }

    /// Thread `tid` was created (or its tid reused), exec'd or exited: no later stack of it is
    /// completed from what was remembered of it before.
    mutating func threadChanged(tid: Int32) {
        stitcher.forget(tid: tid)
    }

    /// The tree node of a sample's stack (kernel frames innermost, then user frames), under `root`.
    /// `counted`: the sample is one of the profile's own, so its unwinding counts toward the header.
    mutating func node(for sample: SampleRecord, root: Int32?, model: ProcessModel, counted: Bool = true) -> Int32 {
        guard unwinder.strategy == .chain else { return resolve(sample, root: root, model: model, counted: counted) }
        // The stack is a function of these words (and of the address spaces, which invalidate the cache).
        let header = (UInt64(UInt32(bitPattern: sample.pid)) << 32 | UInt64(sample.misc.rawValue & RecordMisc.cpuModeMask),
                      UInt64(UInt32(bitPattern: root ?? -1)), sample.callchain.isEmpty ? sample.ip : 0)
        switch cache.lookup(header: header, chain: sample.callchain) {
        case .hit(let node):
            return node
        case .miss(let miss):
            let node = resolve(sample, root: root, model: model)
            cache.store(node, for: miss, header: header, chain: sample.callchain)
            return node
        }
    }

    /// The node of a synthetic frame `text` under `root` (or at the top).
    mutating func labelNode(_ text: String, under root: Int32? = nil) -> Int32 {
        tree.child(of: root ?? PrefixTree.root, key: label(text))
    }

    /// The location id of a synthetic frame such as `[on-cpu]`.
    mutating func label(_ text: String) -> Int32 {
        let index = labels.firstIndex(of: text) ?? { labels.append(text); return labels.count - 1 }()
        return intern(.label(Int32(index)), model: nil)
    }

    /// Resolves each frame of a sample's stack and walks the tree down to its node.
    private mutating func resolve(_ sample: SampleRecord, root: Int32?, model: ProcessModel, counted: Bool = true) -> Int32 {
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
        let truncated = unwinder.unwind(sample, userChain: &userChain, space: space.map { ModelSpace(space: $0, model: model) },
                                        counted: counted)
        // Kernel frames first (innermost), then the user frames. The sampled pc is exact, and so is
        // the user pc where the thread entered the kernel unless a `syscall` is before it: it is
        // then where the call returns to (see ``SyscallReturnPoints``).
        for (index, address) in kernelChain.enumerated() {
            scratch.append(locate(address, kernel: true, exact: index == 0, pid: sample.pid, space: space, model: model))
        }
        for (index, address) in userChain.enumerated() {
            let exact = index == 0 && (kernelChain.isEmpty || !returnsFromSyscall(address, space: space, model: model))
            scratch.append(locate(address, kernel: false, exact: exact, pid: sample.pid, space: space, model: model))
        }
        // The user frames the stitcher remembers start here: every caller, and with kernel frames
        // above, the frame that entered the kernel too.
        let firstReturnAddress = kernelChain.isEmpty ? 1 : 0
        let start = root.map { tree.child(of: PrefixTree.root, key: $0) } ?? PrefixTree.root
        let stackPointers = unwinder.stackPointers
        guard stackPointers.count == userChain.count, truncated || unwinder.reachedRoot,
              sample.tid > 0, let last = userChain.indices.last, last >= firstReturnAddress else {
            if truncated { scratch.append(intern(.truncated, model: model)) }
            return tree.node(for: scratch.reversed(), from: start)
        }
        // A DWARF-unwound stack: complete it from an earlier sample through its outermost frame if
        // it went past the copy, and remember where each of its frames is in the tree.
        var node = start
        var outermost = last
        if truncated {
            guard let joint = stitcher.node(pid: sample.pid, tid: sample.tid, start: start,
                                            stackPointer: stackPointers[last], pc: userChain[last]) else {
                scratch.append(intern(.truncated, model: model))
                return tree.node(for: scratch.reversed(), from: start)
            }
            unwinder.stitched(counted: counted)
            node = joint
            outermost = last - 1
        }
        let kernelCount = kernelChain.count
        if outermost >= 0 {
            remembered.removeAll(keepingCapacity: true)
            for index in stride(from: outermost, through: 0, by: -1) {
                node = tree.child(of: node, key: scratch[kernelCount + index])
                if index >= firstReturnAddress {
                    remembered.append(StackStitcher.Frame(stackPointer: stackPointers[index], pc: userChain[index], node: node))
                }
            }
            stitcher.remember(remembered, pid: sample.pid, tid: sample.tid, start: start)
        }
        return tree.node(for: scratch[..<kernelCount].reversed(), from: node)
    }

    /// Whether the user pc where a sample's thread entered the kernel follows a `syscall`.
    private mutating func returnsFromSyscall(_ address: UInt64, space: AddressSpace?, model: ProcessModel) -> Bool {
        guard let mapping = space?.find(address), !isAnonymous(mapping.dso, model: model) else { return false }
        return syscallReturns.followsSyscall(dso: mapping.dso, fileOffset: mapping.fileOffset(of: address),
                                             path: model.imagePath(ofDSO: mapping.dso))
    }

    /// Whether `location` is a user pc that entered the kernel after a `syscall`, located as a
    /// return address (at the `syscall`'s last byte) by this resolver.
    func isSyscallReturn(_ location: Location) -> Bool {
        guard case .user(let dso, let offset) = location else { return false }
        return syscallReturns.foundSyscall(dso: dso, before: offset &+ 1)
    }

    /// Resolves an address to a location id. Return addresses (every frame but the sampled one
    /// and the interrupted user one below kernel frames) are looked up at `address - 1`, so calls
    /// at the end of a function stay in it.
    private mutating func locate(_ address: UInt64, kernel: Bool, exact: Bool, pid: Int32,
                                 space: AddressSpace?, model: ProcessModel) -> Int32 {
        let lookup = exact ? address : address &- 1
        let location: Location
        if kernel {
            location = .kernel(address: lookup)
        } else if let mapping = space?.find(lookup), !isAnonymous(mapping.dso, model: model) {
            location = .user(dso: mapping.dso, fileOffset: mapping.fileOffset(of: lookup))
        } else if jitMaps.symbols(of: pid)?.lookup(lookup) != nil {
            location = .jit(pid: pid, address: lookup)
        } else if let mapping = space?.find(lookup) {
            location = .user(dso: mapping.dso, fileOffset: mapping.fileOffset(of: lookup))
        } else {
            location = .unmapped(address: lookup)
        }
        return intern(location, model: model)
    }

    private mutating func intern(_ location: Location, model: ProcessModel?) -> Int32 {
        let (id, isNew) = locations.intern(location)
        if isNew, let model { prepareSymbols(for: location, model: model) }
        return id
    }

    /// Lets the symbolizer load what a new location will need while the samples are still
    /// being read: each sampled DSO, and kallsyms, once.
    private mutating func prepareSymbols(for location: Location, model: ProcessModel) {
        switch location {
        case .kernel:
            if !kernelPrepared {
                kernelPrepared = true
                symbolizer.prepareKernel()
            }
        case .user(let dso, _):
            let dso = Int(dso)
            if dso >= preparedDSOs.count { preparedDSOs += repeatElement(false, count: dso + 1 - preparedDSOs.count) }
            if !preparedDSOs[dso] {
                preparedDSOs[dso] = true
                let path = model.imagePath(ofDSO: Int32(dso))
                if let buildID = model.expectedBuildID(ofDSO: Int32(dso)) { symbolizer.expect(buildID: buildID, forPath: path) }
                symbolizer.prepare(path: path)
            }
        case .unmapped, .truncated, .label, .jit:
            break
        }
    }

    /// Anonymous executable memory is where JITs put code.
    private mutating func isAnonymous(_ dso: Int32, model: ProcessModel) -> Bool {
        while anonymousDSOs.count < model.dsos.count {
            let path = model.dsos[anonymousDSOs.count]
            anonymousDSOs.append(path == "//anon" || path.hasPrefix("[anon") || path.hasPrefix("/memfd:") || path == "[heap]")
        }
        return anonymousDSOs[Int(dso)]
    }
}

/// JIT symbol maps (`/tmp/perf-PID.map`) by process, loaded on first need.
struct JITMaps {
    private var maps: [Int32: PerfMapSymbols?] = [:]

    mutating func symbols(of pid: Int32) -> PerfMapSymbols? {
        if let cached = maps[pid] { return cached }
        let map = PerfMapSymbols(pid: pid)
        maps[pid] = .some(map)
        return map
    }

    /// The name of a JIT address in a map already loaded.
    func name(pid: Int32, address: UInt64) -> String? { maps[pid]??.lookup(address) }
}

/// The process model's view of one address space, as the unwinder asks for it.
struct ModelSpace: UnwindAddressSpace {
    let space: AddressSpace
    let model: ProcessModel

    func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? {
        guard let mapping = space.find(address) else { return nil }
        return (mapping.dso, mapping.fileOffset(of: address))
    }

    /// The whole mapping around `address`: the unwinder asks once per mapping a stack passes
    /// through instead of once per frame (the mappings are sorted and do not overlap).
    func range(at address: UInt64) -> UnwindAddressRange? {
        guard let mapping = space.find(address) else { return nil }
        return UnwindAddressRange(start: mapping.start, end: mapping.end, module: mapping.dso, fileOffset: mapping.pageOffset)
    }

    func path(ofModule module: Int32) -> String { model.imagePath(ofDSO: module) }

    func buildID(ofModule module: Int32) -> [UInt8]? { model.expectedBuildID(ofDSO: module) }
}
