import CElfutils
import Symbolication
#if canImport(Glibc)
import Glibc
#endif

/// One DWARF expression operation, copied out of libdw.
struct ExpressionOp {
    var atom: UInt8
    var number: UInt64
    var number2: UInt64
}

/// Where a caller's register is, for one CFI row.
struct RegisterRule {
    enum Kind: UInt8 {
        /// The caller's value is lost (call-clobbered, or the outermost frame's return address).
        case undefined
        /// Saved in memory at CFA + offset.
        case atCFAOffset
        /// The value CFA + offset.
        case cfaPlusOffset
        /// In another register (`offset` holds its slot).
        case inRegister
        /// Saved in memory at the address an expression computes.
        case atExpression
        /// The value an expression computes.
        case valueExpression
    }
    var slot: Int32
    var kind: Kind
    var offset: Int64
    var expression: Int32
}

/// One CFI row, compiled: how to find the CFA and the caller's registers at one pc. Registers
/// with no rule keep their value ("same value"). A plain value (no references), so reading one
/// from the unwinder's table costs no reference counting.
struct CompiledRow {
    /// The CFA is `register + offset`, or (register < 0) the value of `expression`.
    var cfaRegister: Int32
    var cfaOffset: Int64
    var cfaExpression: Int32
    /// The row's rules other than "undefined": `ruleCount` entries of the unwinder's rule table
    /// from `firstRule`, in register order.
    var firstRule: Int32
    var ruleCount: Int32
    /// Registers other than the return address whose value is lost in the caller, one bit per slot.
    var undefinedRegisters: UInt64
    /// The DWARF register holding the return address (x86_64: 16, the rip column).
    var returnAddressColumn: Int32
    /// Some rule reads the frame's registers (a register rule, an expression): the caller's
    /// registers must be written apart from the frame's.
    var readsRegisters: Bool
    /// The return address is undefined: this is the outermost frame.
    var isOutermost: Bool
    /// The frame of a signal trampoline: its caller's pc is exact, not a return address.
    var isSignalFrame: Bool
}

/// The CFI of one ELF file (`.eh_frame`, else `.debug_frame`). Reads through its image's libelf
/// handle and owns its libdw handles; not thread-safe. ``Unwinder`` caches the rows compiled
/// from it.
final class CFIModule {
    let image: ELFImage
    private let ehFrame: OpaquePointer?
    private var dwarf: OpaquePointer?
    private var debugFrame: OpaquePointer?
    private var triedDebugFrame = false

    init?(path: String, expectedBuildID: [UInt8]?) {
        guard let image = try? ELFImage(path: path) else { return nil }
        if let expectedBuildID, let actual = image.buildID, actual != expectedBuildID { return nil }
        self.image = image
        self.ehFrame = dwarf_getcfi_elf(image.elf)
    }

    deinit {
        if let ehFrame { dwarf_cfi_end(ehFrame) }
        if let dwarf { dwarf_end(dwarf) }
    }

    /// The libdw frame state at a link-time address, from `.eh_frame` or else `.debug_frame`.
    /// The caller frees it.
    func frame(at address: UInt64) -> OpaquePointer? {
        var frame: OpaquePointer?
        if let ehFrame, dwarf_cfi_addrframe(ehFrame, address, &frame) == 0, let frame { return frame }
        if !triedDebugFrame {
            triedDebugFrame = true
            dwarf = dwarf_begin_elf(image.elf, DWARF_C_READ, nil)
            if let dwarf { debugFrame = dwarf_getcfi(dwarf) }
        }
        frame = nil
        if let debugFrame, dwarf_cfi_addrframe(debugFrame, address, &frame) == 0, let frame { return frame }
        return nil
    }
}

/// Compiles libdw frame states into ``CompiledRow``s.
enum RowCompiler {
    static let DW_OP_regx: UInt8 = 0x90
    static let DW_OP_bregx: UInt8 = 0x92
    static let DW_OP_reg0: UInt8 = 0x50
    static let DW_OP_breg0: UInt8 = 0x70
    static let DW_OP_plus_uconst: UInt8 = 0x23
    static let DW_OP_call_frame_cfa: UInt8 = 0x9c
    static let DW_OP_stack_value: UInt8 = 0x9f

    /// - Returns: nil when the CFA cannot be determined at this row.
    /// The row's rules other than "undefined" are appended to `rules`.
    static func compile(_ frame: OpaquePointer, architecture: UnwindArchitecture, rules: inout [RegisterRule],
                        expressions: inout [[ExpressionOp]]) -> CompiledRow? {
        var start: Dwarf_Addr = 0, end: Dwarf_Addr = 0
        var signal = false
        let returnColumn = dwarf_frame_info(frame, &start, &end, &signal)
        // A return column outside the registers unwound is not a row we can follow.
        guard returnColumn >= 0, Int(returnColumn) < architecture.dwarfRegisterCount else { return nil }

        var cfaOps: UnsafeMutablePointer<Dwarf_Op>?
        var cfaCount = 0
        guard dwarf_frame_cfa(frame, &cfaOps, &cfaCount) == 0, let cfaOps, cfaCount > 0 else { return nil }
        var row = CompiledRow(cfaRegister: -1, cfaOffset: 0, cfaExpression: -1, firstRule: Int32(rules.count),
                              ruleCount: 0, undefinedRegisters: 0, returnAddressColumn: returnColumn,
                              readsRegisters: false, isOutermost: false, isSignalFrame: signal)
        /// Appends a rule, or folds an undefined one into the row's masks.
        func append(_ rule: RegisterRule) {
            if rule.kind == .cfaPlusOffset, rule.offset == 0, Int(rule.slot) == architecture.spSlot {
                // The ABI's "the stack pointer is the CFA": what every step does first.
                return
            } else if rule.kind == .undefined {
                if rule.slot == returnColumn { row.isOutermost = true } else { row.undefinedRegisters |= 1 << UInt64(rule.slot) }
            } else {
                rules.append(rule)
                row.ruleCount += 1
                if rule.kind != .atCFAOffset && rule.kind != .cfaPlusOffset { row.readsRegisters = true }
            }
        }
        let first = cfaOps[0]
        if cfaCount == 1, first.atom == DW_OP_bregx, Int(first.number) < architecture.dwarfRegisterCount {
            row.cfaRegister = Int32(first.number)
            row.cfaOffset = Int64(bitPattern: first.number2)
        } else if cfaCount == 1, first.atom >= DW_OP_breg0, first.atom < DW_OP_breg0 + 32,
                  Int(first.atom - DW_OP_breg0) < architecture.dwarfRegisterCount {
            row.cfaRegister = Int32(first.atom - DW_OP_breg0)
            row.cfaOffset = Int64(bitPattern: first.number)
        } else {
            row.cfaExpression = intern(cfaOps, cfaCount, into: &expressions)
        }

        let scratch = UnsafeMutablePointer<Dwarf_Op>.allocate(capacity: 3)
        defer { scratch.deallocate() }
        for register in 0..<architecture.dwarfRegisterCount {
            var ops: UnsafeMutablePointer<Dwarf_Op>?
            var count = 0
            guard dwarf_frame_register(frame, Int32(register), scratch, &ops, &count) == 0 else {
                append(RegisterRule(slot: Int32(register), kind: .undefined, offset: 0, expression: -1))
                continue
            }
            if count == 0 {
                // ops == scratch: undefined; ops == nil: same value (no rule needed).
                if ops != nil {
                    append(RegisterRule(slot: Int32(register), kind: .undefined, offset: 0, expression: -1))
                }
                continue
            }
            guard let ops else { continue }
            var length = count
            let isValue = ops[length - 1].atom == DW_OP_stack_value
            if isValue { length -= 1 }
            var rule = RegisterRule(slot: Int32(register), kind: .undefined, offset: 0, expression: -1)
            if length >= 1, ops[0].atom == DW_OP_call_frame_cfa,
               length == 1 || (length == 2 && ops[1].atom == DW_OP_plus_uconst) {
                rule.kind = isValue ? .cfaPlusOffset : .atCFAOffset
                rule.offset = length == 2 ? Int64(bitPattern: ops[1].number) : 0
            } else if !isValue, length == 1, ops[0].atom == DW_OP_regx || (ops[0].atom >= DW_OP_reg0 && ops[0].atom < DW_OP_reg0 + 32) {
                let source = ops[0].atom == DW_OP_regx ? Int(ops[0].number) : Int(ops[0].atom - DW_OP_reg0)
                guard source < architecture.dwarfRegisterCount else {
                    append(rule)
                    continue
                }
                rule.kind = .inRegister
                rule.offset = Int64(source)
            } else {
                rule.kind = isValue ? .valueExpression : .atExpression
                rule.expression = intern(ops, length, into: &expressions)
            }
            append(rule)
        }
        return row
    }

    private static func intern(_ ops: UnsafeMutablePointer<Dwarf_Op>, _ count: Int,
                               into expressions: inout [[ExpressionOp]]) -> Int32 {
        var copied: [ExpressionOp] = []
        copied.reserveCapacity(count)
        for index in 0..<count {
            copied.append(ExpressionOp(atom: ops[index].atom, number: ops[index].number, number2: ops[index].number2))
        }
        expressions.append(copied)
        return Int32(expressions.count - 1)
    }
}
