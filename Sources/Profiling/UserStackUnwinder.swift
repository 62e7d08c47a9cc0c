import PerfABI
import ProfileModel
import Unwinding

/// Replaces or repairs a sample's user frames from its registers and stack copy, as the
/// recording's ``RecordingInterpretation/UserStacks`` says, and counts how that went.
struct UserStackUnwinder {
    /// What happened to the user stacks, for the report header.
    struct Counts {
        /// Samples whose user stack was asked for (the profile's own).
        var samples: UInt64 = 0
        /// Samples whose user stack was unwound from the copy (auto: DWARF frames used).
        var dwarf: UInt64 = 0
        var attempts: UInt64 = 0
        /// Stacks that ran past the end of their copy.
        var truncated: UInt64 = 0
        /// Stacks that came with no copy at all (the recorder's own threads system-wide, whose
        /// copies Perch does not write, or a stack the kernel could not read): a larger copy
        /// would not have shown more of them.
        var notCopied: UInt64 = 0
        var noUnwindInfo: UInt64 = 0
        var repaired: UInt64 = 0
        /// Truncated stacks completed from an earlier sample of the same thread (no longer in `truncated`).
        var stitched: UInt64 = 0
    }

    /// The stack pointer of each frame of the last unwound user chain, when every frame of it
    /// came from DWARF unwinding (empty otherwise): what ``StackStitcher`` keys frames by.
    private(set) var stackPointers: [UInt64] = []
    /// Whether the last unwound user chain ends at the thread's root (the CFI says outermost).
    private(set) var reachedRoot = false

    let strategy: RecordingInterpretation.UserStacks
    private let registerMask: UInt64
    private var unwinder = Unwinder()
    private var unwound: [UInt64] = []
    private(set) var counts = Counts()
    /// Whether the last stack marked truncated had no copy (counted in `notCopied`).
    private var lastTruncatedHadNoCopy = false

    init(_ interpretation: RecordingInterpretation) {
        strategy = interpretation.userStacks
        registerMask = interpretation.registerMask
    }

    /// Rewrites `userChain` (innermost first) for `sample`. Returns whether the stack ran past the
    /// end of the copy (the caller marks it truncated). Only `counted` samples (the profile's own,
    /// not switch-out stacks) count toward what the header says about unwinding.
    mutating func unwind(_ sample: SampleRecord, userChain: inout [UInt64], space: (some UnwindAddressSpace)?,
                         counted: Bool = true) -> Bool {
        let before = counts
        defer { if !counted { counts = before } }
        counts.samples += 1
        stackPointers.removeAll(keepingCapacity: true)
        reachedRoot = false
        // 64-bit register sets only (ABI 2); 32-bit tasks and kernel threads keep the chain.
        guard strategy != .chain, sample.userRegisterABI == 2, !sample.userRegisters.isEmpty, let space else { return false }
        switch strategy {
        case .chain:
            return false
        case .leafRepair:
            guard let pc = userChain.first, let caller = unwinder.leafCaller(
                registers: sample.userRegisters, registerMask: registerMask, stack: sample.userStack,
                space: space, chainPC: pc, chainCaller: userChain.count > 1 ? userChain[1] : nil) else { return false }
            userChain.insert(caller, at: 1)
            counts.repaired += 1
            return false
        case .dwarf:
            counts.attempts += 1
            unwound.removeAll(keepingCapacity: true)
            let stop = unwinder.unwind(registers: sample.userRegisters, registerMask: registerMask,
                                       stack: sample.userStack, space: space, into: &unwound)
            guard !unwound.isEmpty else { return false }
            swap(&userChain, &unwound)
            counts.dwarf += 1
            keepStackPointers(stop, frames: userChain.count)
            return count(stop, copied: !sample.userStack.isEmpty)
        case .auto:
            counts.attempts += 1
            unwound.removeAll(keepingCapacity: true)
            let stop = unwinder.unwind(registers: sample.userRegisters, registerMask: registerMask,
                                       stack: sample.userStack, space: space, into: &unwound)
            // No CFI for the sampled code itself (JIT, [vdso]): the frame-pointer chain is all there is.
            guard unwound.count > 1 || (stop == .complete && !unwound.isEmpty) else { return false }
            counts.dwarf += 1
            if stop != .complete, let last = unwound.last, userChain.count > 1,
               let joint = userChain[1...].lastIndex(of: last) {
                // The frame-pointer chain goes on from the last unwound frame.
                unwound.append(contentsOf: userChain[(joint + 1)...])
                swap(&userChain, &unwound)
                return false
            }
            swap(&userChain, &unwound)
            keepStackPointers(stop, frames: userChain.count)
            return count(stop, copied: !sample.userStack.isEmpty)
        }
    }

    /// Keeps the unwinder's stack pointers for a chain that is all DWARF frames.
    private mutating func keepStackPointers(_ stop: UnwindStop, frames: Int) {
        guard unwinder.stackPointers.count == frames else { return }
        stackPointers.append(contentsOf: unwinder.stackPointers)
        reachedRoot = stop == .complete
    }

    /// A truncated stack was completed by ``StackStitcher``: it counts as stitched, not truncated.
    mutating func stitched(counted: Bool) {
        guard counted else { return }
        if lastTruncatedHadNoCopy {
            guard counts.notCopied > 0 else { return }
            counts.notCopied -= 1
        } else {
            guard counts.truncated > 0 else { return }
            counts.truncated -= 1
        }
        counts.stitched += 1
    }

    private mutating func count(_ stop: UnwindStop, copied: Bool) -> Bool {
        if stop == .noUnwindInfo { counts.noUnwindInfo += 1 }
        if stop == .truncated {
            if copied { counts.truncated += 1 } else { counts.notCopied += 1 }
            lastTruncatedHadNoCopy = !copied
        }
        return stop == .truncated
    }

    /// The call-graph description and notes for the header, once every sample is in.
    func summarize(_ interpretation: RecordingInterpretation, into summary: inout RecordingSummary) {
        let samples = counts.samples
        func percent(_ part: UInt64, of whole: UInt64) -> String {
            let value = whole == 0 ? 0 : Double(part) * 100 / Double(whole)
            if part > 0 && value < 0.1 { return "<0.1" }
            return value >= 10 || value == 0 ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
        }
        let copy = interpretation.stackCopySize
        switch strategy {
        case .chain:
            return
        case .leafRepair:
            if counts.repaired > 0 {
                summary.callGraph = "fp (leaf frames repaired in \(percent(counts.repaired, of: samples))% of samples)"
            }
        case .dwarf:
            summary.callGraph = interpretation.callGraph.description
        case .auto:
            summary.callGraph = "auto (dwarf for \(percent(counts.dwarf, of: samples))% of samples)"
        }
        if counts.truncated > 0 {
            summary.notes.append(ReportNote(.stacksTruncated, "\(percent(counts.truncated, of: counts.attempts))% of user stacks (\(counts.truncated) of \(counts.attempts)) went deeper than the \(copy)-byte stack copy and end in [truncated]; \(copy < Int(CallGraphMode.maximumStackSize) ? "record with --call-graph dwarf,\(CallGraphMode.maximumStackSize) to see more" : "that is the kernel's largest copy (deep recursion, or large frames on the stack)")"))
        }
        if counts.notCopied > 0 {
            summary.notes.append(ReportNote(.stacksNotCopied, "\(percent(counts.notCopied, of: counts.attempts))% of user stacks (\(counts.notCopied) of \(counts.attempts)) came with no stack copy and show their sampled frame, then [truncated]: the recorder's own threads in a system-wide recording by Perch (it does not write their copies), or stacks the kernel could not read"))
        }
        if counts.stitched > 0 {
            summary.notes.append(ReportNote(.stacksStitched, "\(percent(counts.stitched, of: counts.attempts))% of user stacks (\(counts.stitched) of \(counts.attempts)) went deeper than the \(copy)-byte stack copy and were completed from an earlier sample of the same thread through the same frame (same stack pointer and return address)"))
        }
        if counts.noUnwindInfo * 100 > max(counts.attempts, 1) {
            summary.notes.append(ReportNote(.noUnwindTables, "\(percent(counts.noUnwindInfo, of: counts.attempts))% of user stacks stop in code without unwind tables (JIT code, [vdso], or a binary that changed since the recording)"))
        }
    }
}
