import PerfABI

/// How one CPU architecture's registers appear in perf samples (`sample_regs_user`, perf's
/// numbering) and in CFI (DWARF's numbering).
///
/// The unwinder keeps registers in *slots*: slot `n` is DWARF register `n` for every DWARF
/// register the CFI may mention, plus extra slots for registers DWARF does not number (the
/// aarch64 pc).
public struct UnwindArchitecture: Sendable, Equatable {
    public let name: String
    /// The `sample_regs_user` mask perf uses for `--call-graph dwarf` on this architecture.
    public let perfRegisterMask: UInt64
    /// The perf register number held in each slot.
    let perfRegisterOfSlot: [Int]
    /// DWARF registers the CFI rules are asked for (slots `0..<dwarfRegisterCount`).
    let dwarfRegisterCount: Int
    let pcSlot: Int
    let spSlot: Int

    var slotCount: Int { perfRegisterOfSlot.count }

    /// x86_64: DWARF rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8–r15, rip (the return-address
    /// column). perf's mask is every general register but ds/es/fs/gs (`0xff0fff`, 20 registers).
    public static let x86_64 = UnwindArchitecture(
        name: "x86_64",
        perfRegisterMask: UserRegisterMask.x86_64,
        perfRegisterOfSlot: [0, 3, 2, 1, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8],
        dwarfRegisterCount: 17, pcSlot: 16, spSlot: 7)

    /// aarch64: x0–x30, sp (DWARF 0–31, perf 0–31) and the pc (perf 32, slot 32).
    public static let aarch64 = UnwindArchitecture(
        name: "aarch64",
        perfRegisterMask: UserRegisterMask.aarch64,
        perfRegisterOfSlot: Array(0...32),
        dwarfRegisterCount: 32, pcSlot: 32, spSlot: 31)

    /// The architecture this program runs on (reports are read on the machine that recorded).
    public static var host: UnwindArchitecture {
        #if arch(arm64)
        return .aarch64
        #else
        return .x86_64
        #endif
    }
}
