/// How call chains are obtained.
public enum CallGraphMode: Sendable, Equatable, CustomStringConvertible {
    /// No call chains: the sampled instruction only.
    case none
    /// Frame-pointer chains walked by the kernel (`PERF_SAMPLE_CALLCHAIN`), plus the user
    /// registers and a small stack copy for leaf-frame repair.
    case framePointer
    /// User frames unwound with DWARF CFI from the user registers and a copy of `stackSize`
    /// bytes of the user stack; kernel frames from `PERF_SAMPLE_CALLCHAIN`.
    case dwarf(stackSize: UInt32)
    /// Both: DWARF unwinding over a smaller stack copy, the frame-pointer chain beyond its end
    /// and where no CFI covers the code.
    case auto

    /// `PERF_SAMPLE_STACK_USER` bounds: the kernel takes multiples of 8 up to 65528 (the size
    /// field is 16 bits in the record header).
    public static let defaultDWARFStackSize: UInt32 = 8192
    public static let maximumStackSize: UInt32 = 65528
    /// The copy `auto` asks for: deep enough for most stacks, half the bytes of `dwarf`.
    public static let autoStackSize: UInt32 = 4096
    /// The copy `fp` asks for, enough for a leaf's return address and saved registers. A
    /// recording with a callchain and a copy this small or smaller is read as `fp`.
    public static let leafRepairStackSize: UInt32 = 512

    /// Parses `fp`, `dwarf`, `dwarf,SIZE`, `auto` or `none` (perf's `--call-graph` syntax).
    public init?(parsing text: String) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "none" where parts.count == 1: self = .none
        case "fp" where parts.count == 1: self = .framePointer
        case "auto" where parts.count == 1: self = .auto
        case "dwarf" where parts.count == 1: self = .dwarf(stackSize: Self.defaultDWARFStackSize)
        case "dwarf" where parts.count == 2:
            guard let size = UInt32(parts[1]), size > 0, size <= Self.maximumStackSize else { return nil }
            self = .dwarf(stackSize: (size + 7) & ~7)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .framePointer: return "fp"
        case .dwarf(let size): return size == Self.defaultDWARFStackSize ? "dwarf" : "dwarf,\(size)"
        case .auto: return "auto"
        }
    }

    /// Bytes of user stack each sample copies.
    public var stackSize: UInt32 {
        switch self {
        case .none: return 0
        case .framePointer: return Self.leafRepairStackSize
        case .dwarf(let size): return size
        case .auto: return Self.autoStackSize
        }
    }

    /// The mode a recording was made with, read back from its attributes (the inverse of
    /// ``apply(to:)``): a user stack copy with the user call chain excluded (or no chain) is
    /// `dwarf`; a copy no larger than ``leafRepairStackSize`` beside a chain is `fp` with leaf
    /// repair; a larger one is `auto`; a chain alone is `fp`; neither is `none`.
    public init(recordedWith attributes: EventAttributes) {
        let hasChain = attributes.sampleType.contains(.callchain)
        if attributes.sampleType.isSuperset(of: [.regsUser, .stackUser]), attributes.sampleRegsUser != 0, attributes.sampleStackUser > 0 {
            if !hasChain || attributes.flags.contains(.excludeCallchainUser) {
                self = .dwarf(stackSize: attributes.sampleStackUser)
            } else if attributes.sampleStackUser <= Self.leafRepairStackSize {
                self = .framePointer
            } else {
                self = .auto
            }
        } else {
            self = hasChain ? .framePointer : .none
        }
    }

    /// Adds what this mode needs to the sampling attributes.
    public func apply(to attributes: inout EventAttributes) {
        switch self {
        case .none:
            return
        case .framePointer, .auto:
            attributes.sampleType.insert(.callchain)
        case .dwarf:
            // Kernel frames still come from the kernel; the user part is unwound from the copy.
            attributes.sampleType.insert(.callchain)
            attributes.flags.insert(.excludeCallchainUser)
        }
        attributes.sampleType.formUnion([.regsUser, .stackUser])
        attributes.sampleRegsUser = UserRegisterMask.host
        attributes.sampleStackUser = stackSize
    }
}

/// perf's `sample_regs_user` masks for unwinding user stacks: every general register perf
/// numbers on the architecture (on x86_64 all but ds/es/fs/gs, 20 registers; on aarch64
/// x0–x30, sp and pc).
public enum UserRegisterMask {
    public static let x86_64: UInt64 = 0xff0fff
    public static let aarch64: UInt64 = (1 << 33) - 1

    /// The mask for the architecture this program runs on.
    public static var host: UInt64 {
        #if arch(arm64)
        return aarch64
        #else
        return x86_64
        #endif
    }
}
