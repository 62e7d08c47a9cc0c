/// What a served profile weighs stacks by.
public enum ProfileKind: String, Sendable, Hashable, CaseIterable {
    /// CPU time: samples of cpu-clock (or cycles), in nanoseconds.
    case cpu
    /// Time blocked: switch-out to switch-in, in nanoseconds (a recording with --switches).
    case offCPU = "offcpu"

    /// The pprof endpoint's path.
    var path: String { self == .cpu ? "/debug/pprof/profile" : "/debug/pprof/offcpu" }
}
