import PerfEvents

/// How call chains are obtained.
public enum CallGraphMode: String, Sendable {
    /// No call chains: the sampled instruction only.
    case none
    /// Frame-pointer chains walked by the kernel (`PERF_SAMPLE_CALLCHAIN`).
    case framePointer = "fp"

    /// Adds what this mode needs to the sampling attributes.
    public func apply(to attributes: inout EventAttributes) {
        switch self {
        case .none:
            break
        case .framePointer:
            attributes.sampleType.insert(.callchain)
        }
    }
}
