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
/// a small rule list, so a sample costs a few dictionary lookups and memory reads per frame.
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
    private var expressions: [[ExpressionOp]] = []
    private var scratchFrames: [UInt64] = []

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
        var known: UInt64 = 0
        for slot in 0..<architecture.slotCount {
            let perf = architecture.perfRegisterOfSlot[slot]
            guard registerMask & (1 << UInt64(perf)) != 0 else { continue }
            let index = (registerMask & ((1 << UInt64(perf)) - 1)).nonzeroBitCount
            guard index < sampled.count else { continue }
            registers[slot] = sampled[index]
            known |= 1 << UInt64(slot)
        }
        guard known & (1 << UInt64(pcSlot)) != 0 else { return .invalid }
        frames.append(registers[pcSlot])
        statistics.frames += 1
        guard known & (1 << UInt64(spSlot)) != 0 else { return .invalid }
        stackPointers.append(registers[spSlot])
        let memory = StackMemory(base: registers[spSlot], bytes: stack)
        var exact = true  // the sampled pc, and the pc after a signal frame, are not return addresses
        var produced = 1
        while true {
            guard produced < maxFrames else { return .frameLimit }
            let pc = registers[pcSlot]
            let lookup = exact ? pc : pc &- 1
            guard let location = space.module(at: lookup),
                  let rowIndex = row(module: location.module, fileOffset: location.fileOffset, space: space) else {
                return .noUnwindInfo
            }
            let step = unwindOne(row: rows[Int(rowIndex)], known: &known, memory: memory,
                                 registers: registers, callerRegisters: callerRegisters)
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
            let row = rows[Int(rowIndex)]
            let oldSP = registers[spSlot]
            let newPC = callerRegisters[Int(row.returnAddressColumn)]
            // On x86_64 the return-address column is the pc slot; elsewhere copy it there.
            if Int(row.returnAddressColumn) != pcSlot { callerRegisters[pcSlot] = newPC }
            if newPC == 0 { return .complete }
            let newSP = callerRegisters[spSlot]
            if newSP < oldSP || (newSP == oldSP && newPC == pc) { return .invalid }
            swap(&registers, &callerRegisters)
            frames.append(newPC)
            stackPointers.append(newSP)
            statistics.frames += 1
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

    // MARK: - Rows

    private mutating func row(module: Int32, fileOffset: UInt64, space: some UnwindAddressSpace) -> Int32? {
        statistics.rowLookups += 1
        let index = Int(module)
        guard index >= 0 else { return nil }
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
            if let compiled = RowCompiler.compile(frame, architecture: architecture, expressions: &expressions) {
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
    /// `mutating` though it changes nothing in `self`: called from the unwind loop, a
    /// non-mutating method would be passed a copy of `self` (a retain of every cache), once per
    /// frame; this way it reads `expressions` in place.
    private mutating func unwindOne(row: CompiledRow, known: inout UInt64, memory: StackMemory,
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
        // Callers' registers: same value unless a rule says otherwise; the stack pointer is the CFA.
        for slot in 0..<registers.count { callerRegisters[slot] = registers[slot] }
        var callerKnown = known
        callerRegisters[architecture.spSlot] = cfa
        callerKnown |= 1 << UInt64(architecture.spSlot)
        let returnColumn = Int(row.returnAddressColumn)
        /// Records a recovered register. A lost callee-saved register only matters if a caller
        /// needs it; the return address always does, so losing it ends the unwind.
        func store(_ read: StackMemory.Read, slot: Int) -> Step? {
            let bit: UInt64 = 1 << UInt64(slot)
            switch read {
            case .value(let value):
                callerRegisters[slot] = value
                callerKnown |= bit
                return nil
            case .truncated:
                if slot == returnColumn { return .truncated }
            case .invalid:
                if slot == returnColumn { return .invalid }
            }
            callerKnown &= ~bit
            return nil
        }
        for rule in row.rules {
            let slot = Int(rule.slot)
            let bit: UInt64 = 1 << UInt64(slot)
            switch rule.kind {
            case .undefined:
                if slot == returnColumn { return .outermost }
                callerKnown &= ~bit
            case .atCFAOffset:
                if let stop = store(memory.read(cfa &+ UInt64(bitPattern: rule.offset)), slot: slot) { return stop }
            case .cfaPlusOffset:
                callerRegisters[slot] = cfa &+ UInt64(bitPattern: rule.offset)
                callerKnown |= bit
            case .inRegister:
                let source = Int(rule.offset)
                if known & (1 << UInt64(source)) != 0 {
                    callerRegisters[slot] = registers[source]
                    callerKnown |= bit
                } else {
                    callerKnown &= ~bit
                }
            case .atExpression, .valueExpression:
                var result = Self.evaluate(expressions[Int(rule.expression)], cfa: cfa, known: known, memory: memory,
                                           registers: registers, registerCount: architecture.dwarfRegisterCount)
                if rule.kind == .atExpression, case .value(let address) = result { result = memory.read(address) }
                if let stop = store(result, slot: slot) { return stop }
            }
        }
        guard callerKnown & (1 << UInt64(returnColumn)) != 0 else { return .invalid }
        known = callerKnown
        if returnColumn != architecture.pcSlot { known |= 1 << UInt64(architecture.pcSlot) }
        return .ok
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

    func read(_ address: UInt64) -> Read {
        guard address >= base else { return .invalid }
        let offset = address - base
        guard offset <= UInt64(Int.max - 8), Int(offset) + 8 <= bytes.count else { return .truncated }
        return .value(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self)))
    }
}
