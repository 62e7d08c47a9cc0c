/// Options for ``FoldedWriter``, named after `stackcollapse-perf.pl`'s flags.
public struct FoldedOptions: Sendable, Equatable {
    /// Start each stack with the thread's command (spaces replaced by `_`). Default true.
    public var includeComm: Bool
    /// Root frame `comm-pid`, like `--pid`.
    public var includePid: Bool
    /// Root frame `comm-pid/tid`, like `--tid` (implies the pid).
    public var includeTid: Bool
    /// Unknown symbols as `[module <addr>]` (hex, no `0x`, as perf script prints it), like `--addrs`.
    public var addresses: Bool
    /// Append `_[k]` to kernel frames, like `--kernel`.
    public var annotateKernel: Bool
    /// Append `_[j]` to JIT frames, like `--jit`.
    public var annotateJIT: Bool
    /// Append `_[i]` to inlined frames, as `--inline` output does.
    public var annotateInlined: Bool

    /// Creates folded options; defaults match `stackcollapse-perf.pl` without flags.
    public init(
        includeComm: Bool = true, includePid: Bool = false, includeTid: Bool = false, addresses: Bool = false,
        annotateKernel: Bool = false, annotateJIT: Bool = false, annotateInlined: Bool = false
    ) {
        self.includeComm = includeComm
        self.includePid = includePid
        self.includeTid = includeTid
        self.addresses = addresses
        self.annotateKernel = annotateKernel
        self.annotateJIT = annotateJIT
        self.annotateInlined = annotateInlined
    }

    /// Every annotation on (`--all`).
    public static var allAnnotations: FoldedOptions {
        FoldedOptions(annotateKernel: true, annotateJIT: true, annotateInlined: true)
    }
}
