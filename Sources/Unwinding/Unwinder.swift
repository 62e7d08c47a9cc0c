import PerfABI
#if canImport(Glibc)
import Glibc
#endif

/// The address space a sample was taken in, as the unwinder needs it.
public protocol UnwindAddressSpace {
    /// The module mapped at `address` — a small non-negative id, stable for the unwinder's
    /// lifetime (the profile builder uses its DSO index) — and the file offset `address` maps to;
    /// nil for anonymous memory (JIT code, the heap) or an unmapped address.
    func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)?
    /// The file backing a module.
    func path(ofModule module: Int32) -> String
    /// The build id the recording saw for a module; CFI is not taken from a file whose build
    /// id differs.
    func buildID(ofModule module: Int32) -> [UInt8]?
    /// The addresses around `address` that resolve as it does, so that the unwinder asks once
    /// for the frames of one sample that lie in the same mapping. The default covers `address`
    /// alone, through ``module(at:)``.
    func range(at address: UInt64) -> UnwindAddressRange?
}

/// Addresses `start..<end` that all lie in one module, at consecutive file offsets.
public struct UnwindAddressRange: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var module: Int32
    /// The file offset `start` maps to.
    public var fileOffset: UInt64

    public init(start: UInt64, end: UInt64, module: Int32, fileOffset: UInt64) {
        self.start = start
        self.end = end
        self.module = module
        self.fileOffset = fileOffset
    }
}

extension UnwindAddressSpace {
    public func range(at address: UInt64) -> UnwindAddressRange? {
        guard address < UInt64.max, let location = module(at: address) else { return nil }
        return UnwindAddressRange(start: address, end: address + 1, module: location.module, fileOffset: location.fileOffset)
    }
}

/// Why an unwind stopped.
public enum UnwindStop: Sendable, Equatable {
    /// The outermost frame: its return address is undefined in the CFI (or zero).
    case complete
    /// The next frame's data lies beyond the copied stack: the stack is incomplete, not wrong.
    case truncated
    /// A pc that no CFI covers: anonymous or JIT code, `[vdso]` with no kept image, a file that is gone or changed.
    case noUnwindInfo
    /// The rules needed a register that was not sampled, or the stack did not move up.
    case invalid
    /// `maxFrames` reached.
    case frameLimit
}

/// Counters for the report and the benchmarks.
public struct UnwindStatistics: Sendable {
    public var unwinds = 0
    public var frames = 0
    /// Rows looked up in the per-(module, pc) cache, and those that had to ask libdw.
    public var rowLookups = 0
    public var rowMisses = 0
    public var modulesLoaded = 0
    public init() {}
}

/// Unwinds sampled user stacks (`PERF_SAMPLE_REGS_USER` + `PERF_SAMPLE_STACK_USER`) with the CFI
/// libdw parses from `.eh_frame` / `.debug_frame`. Rows are compiled once per (module, pc) into
/// a small rule list, so a frame costs a range check (one lookup in the address space per mapping
/// per sample), a probe of a direct-mapped row cache, and the reads of its saved registers.
///
/// A value whose caches (modules, compiled rows, statistics) grow as it unwinds: keep one in a
/// `var` for a whole report and call its `mutating` methods, so exclusivity is checked at
/// compile time. Copies share the loaded modules' libdw handles, which are not thread-safe:
/// confine an unwinder and its copies to one thread.
public struct Unwinder {
    public let architecture: UnwindArchitecture
    public private(set) var statistics = UnwindStatistics()
    /// The stack pointer of each frame the last ``unwind(registers:registerMask:stack:space:maxFrames:into:)``
    /// appended, in the same order: with the pc, what identifies a live activation (stack stitching).
    public private(set) var stackPointers: [UInt64] = []

    /// Per module id; grows to the highest id seen.
    private var modules: [ModuleCache] = []
    private var rows: [CompiledRow] = []
    /// The rows' rules (all but "undefined"), each row's contiguous.
    private var rules: [RegisterRule] = []
    /// The rows last looked up, direct-mapped by (module, file offset): a hit costs a multiply
    /// and a compare where the per-module dictionary hashes the key.
    private var rowCache: [RowCacheEntry]
    private var expressions: [[ExpressionOp]] = []
    private var scratchFrames: [UInt64] = []
    /// The `sample_regs_user` word holding each slot's register (-1: not sampled), for the mask
    /// `sampledIndexMask` (every sample of a recording has the same).
    private var sampledIndexOfSlot: [Int] = []
    private var sampledIndexMask: UInt64 = 0

    private struct RowCacheEntry {
        /// -1: empty.
        var module: Int32 = -1
        /// The row's index, -1 when no CFI covers the offset.
        var row: Int32 = -1
        var fileOffset: UInt64 = 0
    }
    private static let rowCacheBits = 12

    /// What is known of one module: its CFI once loaded, and the row at each looked-up offset.
    private struct ModuleCache {
        var isLoaded = false
        /// nil until loaded, and when the module has no usable CFI.
        var cfi: CFIModule?
        /// Row index per looked-up file offset; -1 when no CFI covers it.
        var rowByOffset: [UInt64: Int32] = [:]
    }

    public init(architecture: UnwindArchitecture = .host) {
        self.architecture = architecture
        sampledIndexOfSlot = Array(repeating: -1, count: architecture.slotCount)
        rowCache = Array(repeating: RowCacheEntry(), count: 1 << Self.rowCacheBits)
        scratchFrames.reserveCapacity(4)
    }

    /// Unwinds one sample.
    ///
    /// - Parameters:
    ///   - sampled: the `PERF_SAMPLE_REGS_USER` words, in mask order.
    ///   - registerMask: the event's `sample_regs_user`.
    ///   - stack: the copied user stack; it starts at the sampled stack pointer.
    ///   - frames: receives the sampled pc, then each caller's return address (absolute).
    /// - Returns: why unwinding stopped. At least the sampled pc is appended when it is known.
    public mutating func unwind(registers sampled: WordArray, registerMask: UInt64, stack: UnsafeRawBufferPointer,
                                space: some UnwindAddressSpace, maxFrames: Int = 256, into frames: inout [UInt64]) -> UnwindStop {
        // The frame's registers and its caller's, by slot: two stack buffers swapped at each step
        // (arrays cost a uniqueness check and reference counting at every register written).
        let slotCount = architecture.slotCount
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * slotCount) { buffer in
            buffer.initialize(repeating: 0)
            return unwind(registers: sampled, registerMask: registerMask, stack: stack, space: space, maxFrames: maxFrames,
                          frame: UnsafeMutableBufferPointer(rebasing: buffer[0..<slotCount]),
                          caller: UnsafeMutableBufferPointer(rebasing: buffer[slotCount...]), into: &frames)
        }
    }

    private mutating func unwind(registers sampled: WordArray, registerMask: UInt64, stack: UnsafeRawBufferPointer,
                                 space: some UnwindAddressSpace, maxFrames: Int,
                                 frame: UnsafeMutableBufferPointer<UInt64>, caller: UnsafeMutableBufferPointer<UInt64>,
                                 into frames: inout [UInt64]) -> UnwindStop {
        var registers = frame, callerRegisters = caller
        statistics.unwinds += 1
        stackPointers.removeAll(keepingCapacity: true)
        let architecture = self.architecture
        let pcSlot = architecture.pcSlot, spSlot = architecture.spSlot
        if registerMask != sampledIndexMask { indexSampledRegisters(mask: registerMask) }
        var known: UInt64 = 0
        for slot in 0..<sampledIndexOfSlot.count {
            let index = sampledIndexOfSlot[slot]
            guard index >= 0, index < sampled.count else { continue }
            registers[slot] = sampled[index]
            known |= 1 << UInt64(slot)
        }
        guard known & (1 << UInt64(pcSlot)) != 0 else { return .invalid }
        frames.append(registers[pcSlot])
        // Counted here, once: frames appended, rows looked up.
        var produced = 1, lookups = 0
        defer {
            statistics.frames += produced
            statistics.rowLookups += lookups
        }
        guard known & (1 << UInt64(spSlot)) != 0 else { return .invalid }
        stackPointers.append(registers[spSlot])
        let memory = StackMemory(base: registers[spSlot], bytes: stack)
        var exact = true  // the sampled pc, and the pc after a signal frame, are not return addresses
        // The range of the last frame's pc: most callers lie in the same file.
        var range = UnwindAddressRange(start: 1, end: 0, module: -1, fileOffset: 0)
        while true {
            guard produced < maxFrames else { return .frameLimit }
            let pc = registers[pcSlot]
            let lookup = exact ? pc : pc &- 1
            if lookup < range.start || lookup >= range.end {
                guard let found = space.range(at: lookup) else { return .noUnwindInfo }
                range = found
            }
            let fileOffset = range.fileOffset &+ (lookup &- range.start)
            lookups += 1
            let cacheSlot = Self.rowCacheSlot(module: range.module, fileOffset: fileOffset)
            let cached = rowCache[cacheSlot]
            let rowIndex = cached.module == range.module && cached.fileOffset == fileOffset
                ? cached.row : cacheRow(module: range.module, fileOffset: fileOffset, in: cacheSlot, space: space)
            guard rowIndex >= 0 else { return .noUnwindInfo }
            let row = rows[Int(rowIndex)]
            // A row whose rules read no register writes the caller's registers over the frame's.
            let inPlace = !row.readsRegisters
            let target = inPlace ? registers : callerRegisters
            let oldSP = registers[spSlot]
            let step = rules.withUnsafeBufferPointer { rules in
                Self.unwindOne(row: row, rules: rules, expressions: expressions, architecture: architecture, known: &known,
                               memory: memory, registers: registers, callerRegisters: target)
            }
            switch step {
            case .ok:
                break
            case .outermost:
                return .complete
            case .truncated:
                return .truncated
            case .invalid:
                return .invalid
            }
            let newPC = target[Int(row.returnAddressColumn)]
            // On x86_64 the return-address column is the pc slot; elsewhere copy it there.
            if Int(row.returnAddressColumn) != pcSlot { target[pcSlot] = newPC }
            if newPC == 0 { return .complete }
            let newSP = target[spSlot]
            if newSP < oldSP || (newSP == oldSP && newPC == pc) { return .invalid }
            if !inPlace { swap(&registers, &callerRegisters) }
            frames.append(newPC)
            stackPointers.append(newSP)
            produced += 1
            exact = row.isSignalFrame
        }
    }

    /// Leaf-frame repair for a frame-pointer chain: the sampled function's caller, from the CFI of
    /// the first frame and a small stack copy. The kernel's frame-pointer walk skips that caller
    /// when the sampled function has not set up its frame (a frameless leaf, a libc syscall
    /// wrapper, or a pc in a prologue or epilogue).
    ///
    /// - Parameters:
    ///   - chainPC: the first entry of the kernel's user chain (the sampled user pc).
    ///   - chainCaller: the second entry, if any.
    /// - Returns: the return address to insert after the sampled pc, or nil when the chain
    ///   already has it or the CFI cannot tell.
    public mutating func leafCaller(registers sampled: WordArray, registerMask: UInt64, stack: UnsafeRawBufferPointer,
                                    space: some UnwindAddressSpace, chainPC: UInt64, chainCaller: UInt64?) -> UInt64? {
        // Unwind into the scratch array moved out of `self` (it cannot be passed `inout` while
        // `self` is), and moved back after.
        var frames: [UInt64] = []
        swap(&frames, &scratchFrames)
        defer { swap(&frames, &scratchFrames) }
        frames.removeAll(keepingCapacity: true)
        _ = unwind(registers: sampled, registerMask: registerMask, stack: stack, space: space, maxFrames: 2, into: &frames)
        guard frames.count >= 2, frames[0] == chainPC else { return nil }
        let caller = frames[1]
        return caller == chainCaller ? nil : caller
    }

    private mutating func indexSampledRegisters(mask registerMask: UInt64) {
        sampledIndexMask = registerMask
        for slot in 0..<architecture.slotCount {
            let perf = architecture.perfRegisterOfSlot[slot]
            let present = perf < 64 && registerMask & (1 << UInt64(perf)) != 0
            sampledIndexOfSlot[slot] = present ? (registerMask & ((1 << UInt64(perf)) - 1)).nonzeroBitCount : -1
        }
    }

    // MARK: - Rows

    /// The row cache's entry for a (module, file offset): a multiplicative hash.
    @inline(__always)
    private static func rowCacheSlot(module: Int32, fileOffset: UInt64) -> Int {
        let key = (fileOffset ^ (UInt64(UInt32(bitPattern: module)) << 44)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: key >> UInt64(64 - rowCacheBits))
    }

    /// The row at a file offset the row cache does not hold, stored in its entry `slot`; -1 when
    /// no CFI covers it.
    private mutating func cacheRow(module: Int32, fileOffset: UInt64, in slot: Int, space: some UnwindAddressSpace) -> Int32 {
        guard module >= 0 else { return -1 }
        let row = uncachedRow(module: module, fileOffset: fileOffset, space: space) ?? -1
        rowCache[slot] = RowCacheEntry(module: module, row: row, fileOffset: fileOffset)
        return row
    }

    private mutating func uncachedRow(module: Int32, fileOffset: UInt64, space: some UnwindAddressSpace) -> Int32? {
        let index = Int(module)
        if index >= modules.count || !modules[index].isLoaded { load(module: module, space: space) }
        guard modules[index].cfi != nil else { return nil }
        if let cached = modules[index].rowByOffset[fileOffset] { return cached >= 0 ? cached : nil }
        return compileRow(module: index, fileOffset: fileOffset)
    }

    private mutating func load(module: Int32, space: some UnwindAddressSpace) {
        let index = Int(module)
        if index >= modules.count {
            modules.append(contentsOf: repeatElement(ModuleCache(), count: index + 1 - modules.count))
        }
        modules[index].isLoaded = true
        modules[index].cfi = CFIModule(path: space.path(ofModule: module), expectedBuildID: space.buildID(ofModule: module))
        if modules[index].cfi != nil { statistics.modulesLoaded += 1 }
    }

    /// Asks libdw for the row at a file offset not looked up before, and caches the answer.
    private mutating func compileRow(module index: Int, fileOffset: UInt64) -> Int32? {
        statistics.rowMisses += 1
        guard let cfi = modules[index].cfi else { return nil }
        var result: Int32 = -1
        if let address = cfi.image.virtualAddress(forFileOffset: fileOffset), let frame = cfi.frame(at: address) {
            if let compiled = RowCompiler.compile(frame, architecture: architecture, rules: &rules,
                                                    expressions: &expressions) {
                rows.append(compiled)
                result = Int32(rows.count - 1)
            }
            free(UnsafeMutableRawPointer(frame))
        }
        modules[index].rowByOffset[fileOffset] = result
        return result >= 0 ? result : nil
    }

    // MARK: - One step

    private enum Step { case ok, outermost, truncated, invalid }

    /// Computes the caller's registers (`callerRegisters`) from the frame's (`registers`).
    ///
    /// Static, over a borrowed rule table: the unwind loop calls it once per frame, and a method
    /// would be passed `self` (a retain of every cache) or would hold `self` while the table is
    /// read through a pointer.
    private static func unwindOne(row: CompiledRow, rules: UnsafeBufferPointer<RegisterRule>,
                                  expressions: [[ExpressionOp]], architecture: UnwindArchitecture,
                                  known: inout UInt64, memory: StackMemory,
                                  registers: UnsafeMutableBufferPointer<UInt64>,
                                  callerRegisters: UnsafeMutableBufferPointer<UInt64>) -> Step {
        // The CFA.
        var cfa: UInt64
        if row.cfaRegister >= 0 {
            guard known & (1 << UInt64(row.cfaRegister)) != 0 else { return .invalid }
            cfa = registers[Int(row.cfaRegister)] &+ UInt64(bitPattern: row.cfaOffset)
        } else {
            switch Self.evaluate(expressions[Int(row.cfaExpression)], cfa: nil, known: known, memory: memory,
                                   registers: registers, registerCount: architecture.dwarfRegisterCount) {
            case .value(let value): cfa = value
            case .truncated: return .truncated
            case .invalid: return .invalid
            }
        }
        if row.isOutermost { return .outermost }
        // Callers' registers: same value unless a rule says otherwise; the stack pointer is the CFA.
        if callerRegisters.baseAddress != registers.baseAddress {
            for slot in 0..<registers.count { callerRegisters[slot] = registers[slot] }
        }
        let spSlot = architecture.spSlot
        callerRegisters[spSlot] = cfa
        var callerKnown = (known | 1 << UInt64(spSlot)) & ~row.undefinedRegisters
        let returnColumn = Int(row.returnAddressColumn)
        // Each rule is for another register and reads only this frame's registers: their order
        // does not matter, and only the return address's can end the unwind.
        // In range: the compiler appended them.
        var index = Int(row.firstRule)
        let end = index &+ Int(row.ruleCount)
        while index < end {
            let rule = rules[index]
            index &+= 1
            if rule.kind == .atCFAOffset, let value = memory.valueIfCopied(at: cfa &+ UInt64(bitPattern: rule.offset)) {
                // The common rule (a register pushed by the prologue), inline.
                callerRegisters[Int(rule.slot)] = value
                callerKnown |= 1 &<< UInt64(truncatingIfNeeded: rule.slot)  // slot < dwarfRegisterCount ≤ 32
                continue
            }
            if let stop = apply(rule, cfa: cfa, returnColumn: returnColumn, expressions: expressions,
                                architecture: architecture, known: known, callerKnown: &callerKnown, memory: memory,
                                registers: registers, callerRegisters: callerRegisters) {
                return stop
            }
        }
        guard callerKnown & (1 << UInt64(returnColumn)) != 0 else { return .invalid }
        known = callerKnown
        if returnColumn != architecture.pcSlot { known |= 1 << UInt64(architecture.pcSlot) }
        return .ok
    }

    /// Applies one rule other than a register saved in the copy: kept out of the loop over a
    /// row's rules, which it would otherwise crowd.
    @inline(never)
    private static func apply(_ rule: RegisterRule, cfa: UInt64, returnColumn: Int, expressions: [[ExpressionOp]],
                              architecture: UnwindArchitecture, known: UInt64, callerKnown: inout UInt64,
                              memory: StackMemory, registers: UnsafeMutableBufferPointer<UInt64>,
                              callerRegisters: UnsafeMutableBufferPointer<UInt64>) -> Step? {
        let slot = Int(rule.slot)
        let bit: UInt64 = 1 << UInt64(slot)
        let read: StackMemory.Read
        switch rule.kind {
        case .undefined:
            callerKnown &= ~bit
            return nil
        case .atCFAOffset:
            read = memory.read(cfa &+ UInt64(bitPattern: rule.offset))
        case .cfaPlusOffset:
            read = .value(cfa &+ UInt64(bitPattern: rule.offset))
        case .inRegister:
            let source = Int(rule.offset)
            read = known & (1 << UInt64(source)) != 0 ? .value(registers[source]) : .invalid
        case .atExpression, .valueExpression:
            var result = Self.evaluate(expressions[Int(rule.expression)], cfa: cfa, known: known, memory: memory,
                                       registers: registers, registerCount: architecture.dwarfRegisterCount)
            if rule.kind == .atExpression, case .value(let address) = result { result = memory.read(address) }
            read = result
        }
        // A lost callee-saved register only matters if a caller needs it; the return address
        // always does, so losing it ends the unwind.
        switch read {
        case .value(let value):
            callerRegisters[slot] = value
            callerKnown |= bit
        case .truncated:
            if slot == returnColumn { return .truncated }
            callerKnown &= ~bit
        case .invalid:
            if slot == returnColumn { return .invalid }
            callerKnown &= ~bit
        }
        return nil
    }

    /// A small DWARF expression machine: what CFI uses (register bases, constants, arithmetic,
    /// comparisons, `deref` of the copied stack). Glibc's PLT and signal-frame rules need it.
    /// `registerCount`: the DWARF registers there are slots for.
    private static func evaluate(_ ops: [ExpressionOp], cfa: UInt64?, known: UInt64, memory: StackMemory,
                                 registers: UnsafeMutableBufferPointer<UInt64>, registerCount: Int) -> StackMemory.Read {
        var stack: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        var depth = 0
        return withUnsafeMutableBytes(of: &stack) { raw -> StackMemory.Read in
            let values = raw.bindMemory(to: UInt64.self)
            func push(_ value: UInt64) -> Bool {
                guard depth < values.count else { return false }
                values[depth] = value
                depth += 1
                return true
            }
            func register(_ slot: Int) -> UInt64? {
                guard slot < registerCount, known & (1 << UInt64(slot)) != 0 else { return nil }
                return registers[slot]
            }
            for op in ops {
                let atom = op.atom
                switch atom {
                case 0x70..<0x90:  // DW_OP_breg0..31
                    guard let base = register(Int(atom - 0x70)), push(base &+ op.number) else { return .invalid }
                case 0x92:  // DW_OP_bregx
                    guard let base = register(Int(op.number)), push(base &+ op.number2) else { return .invalid }
                case 0x30..<0x50:  // DW_OP_lit0..31
                    guard push(UInt64(atom - 0x30)) else { return .invalid }
                case 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11:  // addr, const*
                    guard push(op.number) else { return .invalid }
                case 0x9c:  // DW_OP_call_frame_cfa
                    guard let cfa, push(cfa) else { return .invalid }
                case 0x12:  // dup
                    guard depth >= 1, push(values[depth - 1]) else { return .invalid }
                case 0x13:  // drop
                    guard depth >= 1 else { return .invalid }
                    depth -= 1
                case 0x14:  // over
                    guard depth >= 2, push(values[depth - 2]) else { return .invalid }
                case 0x16:  // swap
                    guard depth >= 2 else { return .invalid }
                    values.swapAt(depth - 1, depth - 2)
                case 0x06:  // deref
                    guard depth >= 1 else { return .invalid }
                    switch memory.read(values[depth - 1]) {
                    case .value(let value): values[depth - 1] = value
                    case let other: return other
                    }
                case 0x23:  // plus_uconst
                    guard depth >= 1 else { return .invalid }
                    values[depth - 1] = values[depth - 1] &+ op.number
                case 0x1f:  // neg
                    guard depth >= 1 else { return .invalid }
                    values[depth - 1] = 0 &- values[depth - 1]
                case 0x20:  // not
                    guard depth >= 1 else { return .invalid }
                    values[depth - 1] = ~values[depth - 1]
                case 0x1a, 0x1c, 0x1e, 0x21, 0x22, 0x24, 0x25, 0x26, 0x27, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e:
                    guard depth >= 2 else { return .invalid }
                    let b = values[depth - 1], a = values[depth - 2]
                    let sa = Int64(bitPattern: a), sb = Int64(bitPattern: b)
                    let result: UInt64
                    switch atom {
                    case 0x1a: result = a & b
                    case 0x1c: result = a &- b
                    case 0x1e: result = a &* b
                    case 0x21: result = a | b
                    case 0x22: result = a &+ b
                    case 0x24: result = b >= 64 ? 0 : a << b
                    case 0x25: result = b >= 64 ? 0 : a >> b
                    case 0x26: result = UInt64(bitPattern: b >= 64 ? (sa < 0 ? -1 : 0) : sa >> sb)
                    case 0x27: result = a ^ b
                    case 0x29: result = a == b ? 1 : 0
                    case 0x2a: result = sa >= sb ? 1 : 0
                    case 0x2b: result = sa > sb ? 1 : 0
                    case 0x2c: result = sa <= sb ? 1 : 0
                    case 0x2d: result = sa < sb ? 1 : 0
                    default: result = a != b ? 1 : 0
                    }
                    depth -= 1
                    values[depth - 1] = result
                default:
                    return .invalid
                }
            }
            guard depth >= 1 else { return .invalid }
            return .value(values[depth - 1])
        }
    }
}

/// The copied user stack: the bytes at [base, base + count).
struct StackMemory {
    enum Read { case value(UInt64), truncated, invalid }
    let base: UInt64
    let bytes: UnsafeRawBufferPointer
    /// How many offsets start a whole word of the copy: `count - 7`, or 0.
    private let wordOffsets: UInt64

    init(base: UInt64, bytes: UnsafeRawBufferPointer) {
        self.base = base
        self.bytes = bytes
        wordOffsets = bytes.count >= 8 ? UInt64(bytes.count - 7) : 0
    }

    /// The word at `address` when it lies in the copy; nil for ``read(_:)`` to say why not.
    @inline(__always)
    func valueIfCopied(at address: UInt64) -> UInt64? {
        let offset = address &- base
        guard address >= base, offset < wordOffsets, let start = bytes.baseAddress else { return nil }
        return UInt64(littleEndian: start.loadUnaligned(fromByteOffset: Int(truncatingIfNeeded: offset), as: UInt64.self))
    }

    func read(_ address: UInt64) -> Read {
        guard address >= base else { return .invalid }
        let offset = address - base
        guard offset <= UInt64(Int.max - 8), Int(offset) + 8 <= bytes.count else { return .truncated }
        return .value(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self)))
    }
}
