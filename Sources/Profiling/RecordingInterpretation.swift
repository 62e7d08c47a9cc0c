import PerfABI

/// How a recording's attributes are read: which event is the profile, which one samples
/// switch-outs, and how user stacks were recorded. Computed once per file; the record side's
/// ``CallGraphMode`` is the same vocabulary read back.
struct RecordingInterpretation {
    /// How the user part of each sample's stack is obtained.
    enum UserStacks: Equatable {
        /// The kernel's chain (or the sampled ip) as recorded.
        case chain
        /// The kernel's frame-pointer chain with the leaf's caller recovered from CFI.
        case leafRepair
        /// User frames unwound from the stack copy; kernel frames from the chain.
        case dwarf
        /// DWARF inside the copy, the frame-pointer chain beyond it and where CFI is missing.
        case auto
    }

    /// The event whose samples make the on-CPU profile (the file's first unless asked otherwise).
    let mainEvent: Int
    /// The `context-switches` event sampled at every switch-out (period 1), if the file has one
    /// besides the first; one sampled by frequency (`-e cpu-clock,cs`) is an event of its own.
    let switchEvent: Int?
    /// The call-graph mode the main event was recorded with.
    let callGraph: CallGraphMode
    let userStacks: UserStacks
    /// `sample_regs_user` of the main event.
    let registerMask: UInt64
    /// `sample_stack_user` of the main event.
    let stackCopySize: UInt32
    /// The main event left kernel code out (`exclude_kernel`).
    let excludesKernel: Bool

    init(events: [EventDescription], mainEvent: Int = 0) {
        self.mainEvent = mainEvent
        switchEvent = events.indices.dropFirst().first {
            $0 != mainEvent && events[$0].attributes.kind == .contextSwitches && events[$0].attributes.period == 1
        }
        let attributes = events[mainEvent].attributes
        callGraph = CallGraphMode(recordedWith: attributes)
        registerMask = attributes.sampleRegsUser
        stackCopySize = attributes.sampleStackUser
        excludesKernel = attributes.flags.contains(.excludeKernel)
        let copiesStacks = attributes.sampleType.isSuperset(of: [.regsUser, .stackUser])
            && attributes.sampleRegsUser != 0 && attributes.sampleStackUser > 0
        switch callGraph {
        case .dwarf: userStacks = .dwarf
        case .auto: userStacks = .auto
        case .framePointer: userStacks = copiesStacks ? .leafRepair : .chain
        case .none: userStacks = .chain
        }
    }

    /// The header's description of the chains before any sample is read (`fp` or `none`).
    var recordedChains: String { callGraph == .none ? "none" : "fp" }
}
