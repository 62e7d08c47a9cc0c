import ArgumentParser
import PerfABI
import PerfEvents
import Profiling
import Reporting
import Synchronization

// Typed option values: argument-parser rejects a bad value while parsing, so commands never
// re-parse a validated string. `init?(argument:)` can only return nil, so each type leaves the
// reason in `RejectedValue`, and `Perch.main` appends it to argument-parser's
// "The value 'x' is invalid for '-F <freq>'".

/// Why the last option value was rejected (read once by `Perch.main`).
enum RejectedValue {
    private static let reason = Mutex<String?>(nil)

    /// Records why the value being parsed is rejected.
    static func reject(_ why: String) {
        reason.withLock { $0 = why }
    }

    /// The recorded reason, cleared.
    static func take() -> String? {
        reason.withLock { reason in
            defer { reason = nil }
            return reason
        }
    }
}

/// `-F/--freq`: samples per second, or `max` for the kernel's `perf_event_max_sample_rate`, as perf
/// takes it.
struct Frequency: ExpressibleByArgument, CustomStringConvertible {
    var value: UInt64

    init(_ value: UInt64) { self.value = value }

    init?(argument: String) {
        if argument == "max" {
            guard let rate = KernelSettings.read().maxSampleRate, rate > 0 else {
                RejectedValue.reject("kernel.perf_event_max_sample_rate is unreadable; give a number"); return nil
            }
            value = UInt64(rate)
            return
        }
        guard let value = UInt64(argument), value > 0 else { RejectedValue.reject("must be a positive whole number, or max"); return nil }
        self.value = value
    }

    var description: String { "\(value)" }
}

/// A positive whole number: `-c/--period` events per sample.
struct PositiveCount: ExpressibleByArgument, CustomStringConvertible {
    var value: UInt64

    init(_ value: UInt64) { self.value = value }

    init?(argument: String) {
        guard let value = UInt64(argument), value > 0 else { RejectedValue.reject("must be a positive whole number"); return nil }
        self.value = value
    }

    var description: String { "\(value)" }
}

/// `-m/--mmap-pages`: ring buffer data pages per CPU, a power of two up to ``maximum``.
struct RingPageCount: ExpressibleByArgument, CustomStringConvertible {
    var value: Int

    /// 2^20 pages (4 GiB with 4 KiB pages) per CPU: far past any locked-memory budget, and
    /// far below where the ring's size in bytes stops fitting the kernel's fields.
    static let maximum = 1 << 20

    init(_ value: Int) { self.value = value }

    init?(argument: String) {
        guard let value = Int(argument), value >= 1, value & (value - 1) == 0 else {
            RejectedValue.reject("must be a power of two"); return nil
        }
        guard value <= Self.maximum else { RejectedValue.reject("must be at most \(Self.maximum) pages"); return nil }
        self.value = value
    }

    var description: String { "\(value)" }
}

/// `-o/--output` of `perch record`: a file. `-` (perf's pipe mode) is refused: Perch writes
/// only seekable perf.data files, whose header is kept current while recording.
struct RecordOutputPath: ExpressibleByArgument, CustomStringConvertible {
    var path: String

    init(_ path: String) { self.path = path }

    init?(argument: String) {
        guard argument != "-" else {
            RejectedValue.reject("perch does not write perf's pipe mode to standard output; give a file"); return nil
        }
        guard !argument.isEmpty else { RejectedValue.reject("give a file name"); return nil }
        path = argument
    }

    var description: String { path }
}

/// A kernel CPU list such as `0,2-3`, of CPUs this machine can have
/// (`/sys/devices/system/cpu/possible`).
struct CPUList: ExpressibleByArgument, CustomStringConvertible {
    var cpus: [Int32]
    private var text: String

    init?(argument: String) {
        let possible = readFirstLine("/sys/devices/system/cpu/possible").flatMap(parseCPUList)
        let highest = possible?.max() ?? 4095
        // Bounds are checked on the text, before a range is expanded: `0-2147483647` is refused
        // here, not allocated. A leading `-` is not a CPU (`-1` once read as CPU 1).
        let numbers = argument.split(whereSeparator: { $0 == "," || $0 == "-" }).map { Int($0.trimmed()) }
        guard !argument.hasPrefix("-"), !argument.hasSuffix("-"), !argument.contains("--"), !argument.contains(",-"), numbers.allSatisfy({ $0 != nil }) else {
            RejectedValue.reject("bad CPU list '\(argument)'; use e.g. 0,2-3"); return nil
        }
        let reversed = argument.split(separator: ",").contains { part in
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmed()) }
            return bounds.count == 2 && bounds[0] > bounds[1]
        }
        if reversed { RejectedValue.reject("bad CPU list '\(argument)'; use e.g. 0,2-3"); return nil }
        if let outside = numbers.compactMap({ $0 }).max(), outside > highest {
            RejectedValue.reject("CPU \(outside) does not exist here (possible CPUs: 0-\(highest))"); return nil
        }
        guard let cpus = parseCPUList(argument) else { RejectedValue.reject("bad CPU list '\(argument)'; use e.g. 0,2-3"); return nil }
        self.cpus = cpus
        text = argument
    }

    var description: String { text }
}

/// Comma-separated process or thread ids. `positive` lists name live tasks to attach to;
/// report filters take any id (pid 0 is the idle task in system-wide recordings).
struct TaskIDList: ExpressibleByArgument, CustomStringConvertible {
    var ids: [Int32]
    private var text: String

    init?(argument: String) {
        guard let ids = Self.parse(argument, positive: true) else { return nil }
        self.ids = ids
        text = argument
    }

    static func parse(_ text: String, positive: Bool) -> [Int32]? {
        var ids: [Int32] = []
        for part in text.split(separator: ",") {
            guard let id = Int32(part.trimmed()), id > 0 || !positive else { RejectedValue.reject("bad id '\(part)'"); return nil }
            ids.append(id)
        }
        guard !ids.isEmpty else { RejectedValue.reject("give one or more ids, comma-separated"); return nil }
        return ids
    }

    var description: String { text }
}

/// Report filters: comma-separated process or thread ids, any value.
struct IDFilter: ExpressibleByArgument, CustomStringConvertible {
    var ids: Set<Int32>
    private var text: String

    init?(argument: String) {
        guard let ids = TaskIDList.parse(argument, positive: false) else { return nil }
        self.ids = Set(ids)
        text = argument
    }

    var description: String { text }
}

/// `--sort`: comma-separated report sort keys.
struct SortKeyList: ExpressibleByArgument, CustomStringConvertible {
    var keys: [SortKey]

    init(_ keys: [SortKey]) { self.keys = keys }

    /// perf's names for the same keys.
    static let aliases: [String: SortKey] = ["symbol": .sym, "thread": .tid, "shared_object": .dso, "command": .comm]
    /// perf's column fields, which perf accepts among sort keys: Perch always shows them.
    static let fields: Set<String> = ["overhead", "overhead_children", "sample", "period"]

    init?(argument: String) {
        var keys: [SortKey] = []
        for name in argument.split(separator: ",") {
            let spelled = name.trimmed().lowercased()
            if Self.fields.contains(spelled) { continue }
            guard let key = SortKey(rawValue: spelled) ?? Self.aliases[spelled] else {
                RejectedValue.reject("unknown sort key '\(name)'; use comm, pid, tid, dso, sym (or perf's symbol, thread)"); return nil
            }
            keys.append(key)
        }
        guard !keys.isEmpty else { RejectedValue.reject("use comm, pid, tid, dso, sym"); return nil }
        self.keys = keys
    }

    var description: String { keys.map(\.rawValue).joined(separator: ",") }
}

/// An option that is one number within bounds: each type says its bounds and how to say them.
protocol BoundedNumber: ExpressibleByArgument, CustomStringConvertible {
    var value: Double { get }
    init(_ value: Double)
    /// Whether `value` is allowed (NaN never is).
    static func allows(_ value: Double) -> Bool
    /// What a refused value is told: "must be ...".
    static var bounds: String { get }
}

extension BoundedNumber {
    init?(argument: String) {
        guard let value = Double(argument), !value.isNaN, Self.allows(value) else {
            RejectedValue.reject("must be \(Self.bounds)"); return nil
        }
        self.init(value)
    }

    var description: String { "\(value)" }
}

/// `--duration`: seconds, more than zero.
struct Seconds: BoundedNumber {
    var value: Double
    init(_ value: Double) { self.value = value }
    static func allows(_ value: Double) -> Bool { value.isFinite && value > 0 }
    static let bounds = "a finite number of seconds above 0"
}

/// `--percent-limit`: a percentage from 0 to 100.
struct Percentage: BoundedNumber {
    var value: Double
    init(_ value: Double) { self.value = value }
    static func allows(_ value: Double) -> Bool { value >= 0 && value <= 100 }
    static let bounds = "a percentage from 0 to 100"
}

/// `--width`: flame graph width in pixels, 50 to 1000000.
struct FlameWidth: BoundedNumber {
    var value: Double
    init(_ value: Double) { self.value = value }
    static func allows(_ value: Double) -> Bool { value >= 50 && value <= 1_000_000 }
    static let bounds = "between 50 and 1000000"
}

/// `--minwidth`: pixels, zero or more.
struct MinimumWidth: BoundedNumber {
    var value: Double
    init(_ value: Double) { self.value = value }
    static func allows(_ value: Double) -> Bool { value >= 0 && value.isFinite }
    static let bounds = "a finite number of pixels, not negative"
}

// Library types parsed from the command line. The conformances live here, not in the libraries
// (no `@retroactive`: the types are in this package).

/// `-e` as perf reads it: events separated by commas, each `NAME[:MODIFIERS]`, `rHEX` or
/// `SUBSYS:NAME`, and `{a,b}` groups: `perch stat` opens a group under one leader, `perch record`
/// records its members as events of their own.
struct EventList: ExpressibleByArgument, CustomStringConvertible {
    /// The events as grouped on the command line (`{a,b}` is one group, a lone event its own).
    var groups: [[EventSpecification]]
    /// The text as typed.
    var text: String

    /// Every event, groups flattened in order.
    var events: [EventSpecification] { groups.flatMap { $0 } }

    init(_ events: [EventSpecification]) {
        self.groups = events.map { [$0] }
        self.text = events.map(\.description).joined(separator: ",")
    }

    init?(argument: String) {
        do {
            groups = try EventSpecification.parseList(argument)
            text = argument
        } catch {
            RejectedValue.reject(error.description); return nil
        }
    }

    var description: String { text }
    var defaultValueDescription: String { text }
}

extension CallGraphMode: ExpressibleByArgument {
    public init?(argument: String) {
        guard let mode = CallGraphMode(parsing: argument) else {
            RejectedValue.reject("use auto, fp, dwarf, dwarf,SIZE (8 to 65528 bytes) or none"); return nil
        }
        self = mode
    }
}

extension FlamePalette: ExpressibleByArgument {
    public init?(argument: String) {
        guard let palette = FlamePalette(rawValue: argument) else {
            RejectedValue.reject("unknown palette '\(argument)'; use hot, mem, io or kind"); return nil
        }
        self = palette
    }

    /// The help text already names the palettes, with what each is for.
    public static var allValueStrings: [String] { [] }
}

/// `perch report -g/--call-graph` in perf report's syntax: comma-separated, in any order, a
/// layout (graph, fractal, flat, folded, or none), an order (caller, callee), a percent limit
/// (the smallest share a branch needs to be shown), and perf's `function` and `percent`, which are
/// what Perch always does.
struct CallGraphRequest: ExpressibleByArgument, CustomStringConvertible {
    /// nil for `none`: no call graph.
    var layout: CallGraphLayout? = .graph
    /// nil: the default order (callee).
    var order: CallGraphOrder?
    /// nil: the default limit (0.5).
    var percentLimit: Double?
    private var text: String

    /// What bare `-g` asks for: perf's `graph,0.5,callee`.
    static let standard = CallGraphRequest(text: "graph")

    private init(text: String) { self.text = text }

    init?(argument: String) {
        text = argument
        var numbers = 0
        for word in argument.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmed().lowercased() }) {
            if word == "none" { layout = nil }
            else if let layout = CallGraphLayout(rawValue: word) { self.layout = layout }
            else if let order = CallGraphOrder(rawValue: word) { self.order = order }
            else if word == "function" || word == "percent" { continue }
            else if let number = Double(word) {
                numbers += 1
                guard numbers == 1 else {
                    RejectedValue.reject("a second number is perf's print_limit, which Perch does not have; give the percent limit alone"); return nil
                }
                guard Percentage.allows(number) else { RejectedValue.reject("the percent limit must be \(Percentage.bounds)"); return nil }
                percentLimit = number
            } else if ["address", "branch", "period", "count"].contains(word) {
                RejectedValue.reject("'\(word)' is not supported: Perch's call graphs are by function, in percentages"); return nil
            } else {
                RejectedValue.reject("use graph, fractal, flat, folded or none; caller or callee; a percent limit (e.g. graph,0.5,caller)"); return nil
            }
        }
    }

    var description: String { text }
}

/// `--max-stack`: a number of frames, 0 or more.
struct StackDepth: ExpressibleByArgument, CustomStringConvertible {
    var value: Int

    init?(argument: String) {
        guard let value = Int(argument), value >= 0 else { RejectedValue.reject("must be a whole number of frames, 0 or more"); return nil }
        self.value = value
    }

    var description: String { "\(value)" }
}
