/// The `type` field of `perf_event_attr`.
public enum EventType: UInt32, Sendable {
    case hardware = 0
    case software = 1
    case tracepoint = 2
    case hardwareCache = 3
    case raw = 4
    case breakpoint = 5
}

/// The events Perch knows by name, as `perf list` spells them.
public enum EventKind: Hashable, Sendable, CustomStringConvertible {
    case cpuCycles, instructions, cacheReferences, cacheMisses, branchInstructions, branchMisses
    case cpuClock, taskClock, pageFaults, contextSwitches, cpuMigrations, dummy
    /// Any other (type, config) pair, named as perf does when it cannot name it.
    case other(type: UInt32, config: UInt64)

    /// Parses a `-e` argument: `cycles`, `cpu-clock`, `context-switches`, ...
    public init?(name: String) {
        switch name.lowercased() {
        case "cycles", "cpu-cycles": self = .cpuCycles
        case "instructions": self = .instructions
        case "cache-references": self = .cacheReferences
        case "cache-misses": self = .cacheMisses
        case "branches", "branch-instructions": self = .branchInstructions
        case "branch-misses": self = .branchMisses
        case "cpu-clock": self = .cpuClock
        case "task-clock": self = .taskClock
        case "page-faults", "faults": self = .pageFaults
        case "context-switches", "cs": self = .contextSwitches
        case "cpu-migrations", "migrations": self = .cpuMigrations
        case "dummy": self = .dummy
        default: return nil
        }
    }

    /// Recovers the kind from an attribute's type and config (for files written by anyone).
    public init(type: UInt32, config: UInt64) {
        let all: [EventKind] = [.cpuCycles, .instructions, .cacheReferences, .cacheMisses, .branchInstructions,
                                .branchMisses, .cpuClock, .taskClock, .pageFaults, .contextSwitches,
                                .cpuMigrations, .dummy]
        self = all.first { $0.typeNumber == type && $0.config == config } ?? .other(type: type, config: config)
    }

    public static let knownNames = ["cycles", "instructions", "cache-references", "cache-misses", "branches",
                                    "branch-misses", "cpu-clock", "task-clock", "page-faults",
                                    "context-switches", "cpu-migrations", "dummy"]

    public var type: EventType {
        switch self {
        case .cpuCycles, .instructions, .cacheReferences, .cacheMisses, .branchInstructions, .branchMisses:
            return .hardware
        case .other(let type, _):
            return EventType(rawValue: type) ?? .raw
        default:
            return .software
        }
    }

    public var config: UInt64 {
        switch self {
        case .cpuCycles: 0
        case .instructions: 1
        case .cacheReferences: 2
        case .cacheMisses: 3
        case .branchInstructions: 4
        case .branchMisses: 5
        case .cpuClock: 0
        case .taskClock: 1
        case .pageFaults: 2
        case .contextSwitches: 3
        case .cpuMigrations: 4
        case .dummy: 9
        case .other(_, let config): config
        }
    }

    /// The raw `type` number, including types outside ``EventType``.
    public var typeNumber: UInt32 {
        if case .other(let type, _) = self { return type }
        return type.rawValue
    }

    public var isHardware: Bool { type == .hardware }

    public var description: String {
        switch self {
        case .cpuCycles: "cycles"
        case .instructions: "instructions"
        case .cacheReferences: "cache-references"
        case .cacheMisses: "cache-misses"
        case .branchInstructions: "branches"
        case .branchMisses: "branch-misses"
        case .cpuClock: "cpu-clock"
        case .taskClock: "task-clock"
        case .pageFaults: "page-faults"
        case .contextSwitches: "context-switches"
        case .cpuMigrations: "cpu-migrations"
        case .dummy: "dummy"
        case .other(let type, let config): "raw-\(type):0x\(String(config, radix: 16))"
        }
    }
}
