import ArgumentParser
import PerfABI
import PerfEvents
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// `perch list [FILTER]`: the events this machine offers, by category as `perf list` prints them,
/// each with whether this user may sample it here. Software and hardware events are checked by
/// opening them on perch itself (as the privilege probe does); tracepoints, of which there are
/// thousands, by the kernel's rule for the category.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the events perch record -e takes here, and which of them this user may sample.",
        discussion: "FILTER keeps the events whose name contains it, or matches it as a glob (sched:*); a category name (sw, software, hw, hardware, cache, raw, tracepoint) keeps that category."
    )

    @Argument(help: "Show only events matching this word or glob, or this category.")
    var filter: String?

    private enum Category: String, CaseIterable {
        case software = "Software event", hardware = "Hardware event", cache = "Hardware cache event"
        case raw = "Raw hardware event descriptor", tracepoint = "Tracepoint event"

        var words: [String] {
            switch self {
            case .software: ["sw", "software"]
            case .hardware: ["hw", "hardware"]
            case .cache: ["cache", "hwcache"]
            case .raw: ["raw"]
            case .tracepoint: ["tracepoint", "tracepoints", "tp"]
            }
        }
    }

    private static let software: [(names: [String], kind: EventKind)] = [
        (["cpu-clock"], .cpuClock), (["task-clock"], .taskClock), (["page-faults", "faults"], .pageFaults),
        (["context-switches", "cs"], .contextSwitches), (["cpu-migrations", "migrations"], .cpuMigrations),
        (["dummy"], .dummy),
    ]
    private static let hardware: [(names: [String], kind: EventKind)] = [
        (["cpu-cycles", "cycles"], .cpuCycles), (["instructions"], .instructions),
        (["cache-references"], .cacheReferences), (["cache-misses"], .cacheMisses),
        (["branch-instructions", "branches"], .branchInstructions), (["branch-misses"], .branchMisses),
    ]

    func run() throws {
        let probe = PrivilegeProbe.run()
        let categoryFilter = filter.flatMap { word in Category.allCases.first { $0.words.contains(word.lowercased()) } }
        func shown(_ category: Category, _ names: [String]) -> Bool {
            if let categoryFilter { return category == categoryFilter }
            guard let filter, !filter.isEmpty else { return true }
            return names.contains { name in
                filter.contains("*") || filter.contains("?") ? fnmatch(filter, name, 0) == 0 : name.contains(filter)
            }
        }
        var lines: [String] = []
        func line(_ names: [String], _ category: Category, _ status: String) {
            lines.append("  " + names.joined(separator: " OR ").alignedLeft(48) + " " + "[\(category.rawValue)]".alignedLeft(32) + " " + status)
        }

        if probe.perfEventOpenWorks {
            for event in Self.software where shown(.software, event.names) {
                line(event.names, .software, status(of: event.kind, probe: probe))
            }
        } else if shown(.software, ["software"]) {
            lines.append("  software events: none usable: \(probe.blockedReason ?? "perf_event_open is blocked")")
        }
        let hardwareNames = Self.hardware.flatMap(\.names)
        if probe.hardwarePMU {
            for event in Self.hardware where shown(.hardware, event.names) {
                line(event.names, .hardware, status(of: event.kind, probe: probe))
            }
        } else if categoryFilter == .hardware || (categoryFilter == nil && (filter == nil || shown(.hardware, hardwareNames))) {
            lines.append("  hardware events: none (no hardware PMU here, as in most VMs; perch record -e cycles samples cpu-clock instead)")
        }
        if categoryFilter == .cache || (categoryFilter == nil && filter == nil) {
            lines.append(probe.hardwarePMU
                ? "  hardware cache events: not taken by name yet; use rNNNN with the PMU's raw encoding"
                : "  hardware cache events: none (no hardware PMU here)")
        }
        if shown(.raw, ["rNNN", "raw"]) {
            line(["rNNN"], .raw, probe.hardwarePMU ? "as the PMU allows" : "no PMU here: opens nothing")
        }
        if categoryFilter == nil || categoryFilter == .tracepoint {
            lines += tracepointLines(probe: probe, shown: { shown(.tracepoint, [$0]) }, filtered: categoryFilter == nil && filter != nil)
        }
        try writeOut(lines.joined(separator: "\n") + "\n")
    }

    /// Whether an event opens for this user, checked by opening it on perch itself.
    private func status(of kind: EventKind, probe: PrivilegeProbe) -> String {
        var attributes = EventAttributes(kind: kind)
        attributes.flags = [.disabled]
        if !probe.mayProfileKernel { attributes.flags.formUnion([.excludeKernel, .excludeHypervisor]) }
        do {
            _ = try PerfEvent(attributes: attributes, pid: 0, cpu: -1)
        } catch {
            return "not usable: \(Errno(error.errno).text)"
        }
        if kind == .contextSwitches && !probe.mayProfileKernel {
            return "opens, but never counts here (switches happen in the kernel, which paranoid \(probe.settings.paranoid.map(String.init) ?? "?") leaves out); perch record --switches works"
        }
        return probe.mayProfileKernel ? "usable" : "usable (user space only: :u)"
    }

    /// The tracepoints, with the kernel's rule for all of them: tracefs readable, kernel
    /// sampling allowed, and raw data (the fields) for CAP_PERFMON or paranoid -1.
    private func tracepointLines(probe: PrivilegeProbe, shown: (String) -> Bool, filtered: Bool) -> [String] {
        guard let tracefs = Tracefs.locate() else {
            return filtered ? [] : ["  tracepoints: none (tracefs is not mounted at \(Tracefs.candidates.joined(separator: " or ")))"]
        }
        guard let names = tracefs.tracepoints() else {
            return filtered ? [] : ["  tracepoints: hidden from this user (\(tracefs.root) is readable only by root); run perch list as root"]
        }
        let paranoid = probe.settings.paranoid.map(String.init) ?? "?"
        let status = !probe.mayProfileKernel
            ? "not usable: kernel sampling needs kernel.perf_event_paranoid <= 1 or CAP_PERFMON (it is \(paranoid))"
            : probe.hasPerfmon || probe.settings.paranoid == -1 ? "usable"
            : "usable without fields (raw data needs CAP_PERFMON or paranoid -1)"
        return names.filter(shown).map {
            "  " + $0.alignedLeft(48) + " " + "[\(Category.tracepoint.rawValue)]".alignedLeft(32) + " " + status
        }
    }
}
