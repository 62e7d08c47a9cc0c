import ArgumentParser
import PerfEvents
import PerfABI
import PerfRecords
import ProfileModel
import Profiling
import Reporting
import Symbolication
#if canImport(Glibc)
import Glibc
#endif

/// `perch script`: every sample with its stack, in perf script's layout, for Perch's recordings
/// and perf's. The interchange format of the ecosystem (stackcollapse-perf.pl and the tools
/// that read perf script).
struct ScriptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "script",
        abstract: "Print every sample and its stack in perf script's layout.",
        discussion: """
            One entry per sample in time order: 'comm  tid [cpu] time: period event:', then the stack, \
            sampled frame first, one '\\taddress symbol+offset (dso)' line per frame, then a blank line. \
            User addresses are file offsets in their DSO, as perf script prints them. Context switches \
            and other non-sample records are not printed. Stacks are unwound, resolved and symbolized \
            as 'perch report' does, so DWARF recordings show Perch's unwinding and inlined functions \
            appear as frames of their own, marked '(inlined)'.
            """
    )

    @Option(name: [.short, .customLong("input")], help: "The recording to read (default perch.data, else perf.data when only that exists).")
    var input: String?

    @Option(name: [.customShort("F"), .customLong("fields")], parsing: .unconditional, help: ArgumentHelp(
        "Fields to print, comma-separated: \(ScriptField.allCases.map(\.rawValue).joined(separator: ", ")); '+field'/'-field' add to or remove from the default.",
        valueName: "fields"))
    var fields: ScriptFieldList?

    @Flag(name: .long, help: "Print the recording's header (host, command line, events) before the samples.")
    var header = false

    @Flag(name: .customLong("header-only"), help: "Print the recording's header only.")
    var headerOnly = false

    @Flag(name: .customLong("ns"), help: "Times with nanoseconds (secs.nnnnnnnnn) instead of microseconds.")
    var nanoseconds = false

    @Flag(name: .customLong("full-source-path"), help: "srcline: the source file's whole path, not its name alone.")
    var fullSourcePath = false

    @Option(name: [.customLong("comm"), .customLong("comms")], help: "Only these commands (comma-separated).")
    var comm: String?

    @Option(name: [.long, .customLong("pids")], help: "Only these processes (comma-separated).")
    var pid: IDFilter?

    @Option(name: [.long, .customLong("tids")], help: "Only these threads (comma-separated).")
    var tid: IDFilter?

    @Option(name: [.customShort("C"), .long], help: "Only samples taken on these CPUs (e.g. 0,2-3).")
    var cpu: CPUList?

    func run() throws {
        let path = inputPath()
        let file: PerfDataFile
        do { file = try PerfDataFile(path: path) } catch { throw PerchError.badInput("\(error)") }
        let chosen = try chosenFields(file)
        if header || headerOnly { try writeOut(Self.header(of: file)) }
        if headerOnly { return }

        let comms = Set((comm ?? "").split(separator: ",").map(String.init))
        let pids = pid?.ids ?? [], tids = tid?.ids ?? [], cpus = Set((cpu?.cpus ?? []).map { UInt32(bitPattern: $0) })
        if !cpus.isEmpty, !file.events.contains(where: { $0.attributes.sampleType.contains(.cpu) }) {
            throw PerchError.badInput("--cpu: \(path) has no CPU in its samples (recorded without PERF_SAMPLE_CPU)")
        }
        var writer = ScriptWriter(fields: chosen, chosen: fields != nil, eventNames: file.events.map(\.name), nanoseconds: nanoseconds,
                                  fullSourcePaths: fullSourcePath) {
            bytes throws(WriteError) in try writeOut(bytes)
        }
        let builder = ProfileBuilder(file: file, symbolizer: DWARFSymbolizer())
        do {
            try builder.forEachSample(symbolOffsets: chosen.contains(.symoff), formatLookup: Tracefs.formatText(ofEvent:)) { sample in
                if !comms.isEmpty, !comms.contains(sample.comm) { return }
                if !pids.isEmpty, !pids.contains(sample.pid) { return }
                if !tids.isEmpty, !tids.contains(sample.tid) { return }
                if !cpus.isEmpty, !sample.cpu.map(cpus.contains)! { return }
                try writer.write(sample)
            }
            try writer.finish()
        } catch let error as WriteError {
            throw PerchError.write(error)
        } catch {
            throw PerchError.badInput("\(path): \(error)")
        }
    }

    /// `-i`, or perch.data, or perf.data (saying so) when only perf's file is here.
    private func inputPath() -> String {
        if let input { return input }
        if access("perch.data", F_OK) != 0, access("perf.data", R_OK) == 0 {
            printError("perch: note: no perch.data here; reading perf.data")
            return "perf.data"
        }
        return "perch.data"
    }

    /// The fields to print: perf's default less what the samples lack, or `-F`'s, which must
    /// all be in the samples.
    private func chosenFields(_ file: PerfDataFile) throws(PerchError) -> [ScriptField] {
        let types = file.events.map(\.attributes.sampleType)
        func recorded(_ field: ScriptField) -> SampleType? {
            switch field {
            case .cpu: .cpu
            case .time: .time
            case .period: .period
            case .tid, .pid: .tid
            default: nil
            }
        }
        let defaults = ScriptField.defaults.filter { field in recorded(field).map { bit in types.contains { $0.contains(bit) } } ?? true }
        guard let fields else { return defaults }
        let chosen = fields.resolved(defaults: defaults)
        for field in chosen {
            guard let bit = recorded(field), let event = file.events.first(where: { !$0.attributes.sampleType.contains(bit) }) else { continue }
            throw .badInput("-F \(field.rawValue): the samples of \(event.name) in \(file.path) do not have it (recorded without PERF_SAMPLE_\(String(describing: field == .pid ? .tid : field).uppercased()))")
        }
        return chosen
    }

    /// perf's `--header` block: what the recording says about where and how it was made.
    static func header(of file: PerfDataFile) -> String {
        let features = file.features
        var lines = ["# ========"]
        func line(_ name: String, _ value: String?) { if let value { lines.append("# \(name) : \(value)") } }
        line("hostname", features.hostname)
        line("os release", features.osRelease)
        line("perf version", features.version)
        line("arch", features.arch)
        line("nrcpus online", features.cpusOnline.map(String.init))
        line("nrcpus avail", features.cpusAvailable.map(String.init))
        line("cmdline", features.commandLine?.joined(separator: " "))
        for event in file.events {
            let attributes = event.attributes
            let rate = attributes.frequency.map { "sample_freq = \($0)" } ?? "sample_period = \(attributes.samplePeriodOrFrequency)"
            lines.append("# event : name = \(event.name), type = \(attributes.kind.typeNumber), \(rate), sample_type = \(sampleTypeNames(attributes.sampleType))")
        }
        for note in features.recordingNotes { lines.append("# perch note : \(note.text)") }
        if file.isCutShort { lines.append("# note : the recording was cut short (no feature sections)") }
        lines.append("# ========")
        lines.append("#")
        return lines.joined(separator: "\n") + "\n"
    }

    /// `IP|TID|TIME|CALLCHAIN|PERIOD`, as perf's header names the sample type.
    private static func sampleTypeNames(_ type: SampleType) -> String {
        let names: [(SampleType, String)] = [
            (.ip, "IP"), (.tid, "TID"), (.time, "TIME"), (.addr, "ADDR"), (.read, "READ"), (.callchain, "CALLCHAIN"),
            (.id, "ID"), (.cpu, "CPU"), (.period, "PERIOD"), (.streamID, "STREAM_ID"), (.raw, "RAW"),
            (.branchStack, "BRANCH_STACK"), (.regsUser, "REGS_USER"), (.stackUser, "STACK_USER"), (.weight, "WEIGHT"),
            (.dataSource, "DATA_SRC"), (.identifier, "IDENTIFIER"), (.transaction, "TRANSACTION"), (.regsIntr, "REGS_INTR"),
            (.physAddr, "PHYS_ADDR"), (.aux, "AUX"), (.cgroup, "CGROUP"), (.dataPageSize, "DATA_PAGE_SIZE"),
            (.codePageSize, "CODE_PAGE_SIZE"), (.weightStruct, "WEIGHT_STRUCT"),
        ]
        return names.filter { type.contains($0.0) }.map(\.1).joined(separator: "|")
    }
}

/// `-F`'s value: a field list (`comm,tid,ip,sym`), or changes to the default (`+srcline,-period`).
struct ScriptFieldList: ExpressibleByArgument, CustomStringConvertible {
    private enum Change { case add(ScriptField), remove(ScriptField) }
    private var list: [ScriptField]?
    private var changes: [Change] = []
    private let text: String

    init?(argument: String) {
        text = argument
        // perf's per-type form (`sw:comm,tid`): Perch's fields are the same for every event type.
        var argument = Substring(argument)
        if let colon = argument.firstIndex(of: ":"), ["hw", "sw", "trace", "raw", "synth", "brkpt"].contains(argument[..<colon]) {
            argument = argument[argument.index(after: colon)...]
        }
        let items = argument.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmed() }
        let modifiers = items.filter { $0.hasPrefix("+") || $0.hasPrefix("-") }.count
        guard modifiers == 0 || modifiers == items.count else {
            RejectedValue.reject("a field list and +/- changes cannot be mixed; use either 'comm,tid,ip' or '+srcline,-period'"); return nil
        }
        var fields: [ScriptField] = []
        for item in items {
            let name = modifiers > 0 ? String(item.dropFirst()) : item
            guard let field = ScriptField(rawValue: name) else {
                RejectedValue.reject("unknown field '\(name)'; perch script prints \(ScriptField.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            if modifiers > 0 {
                changes.append(item.hasPrefix("+") ? .add(field) : .remove(field))
            } else if !fields.contains(field) {
                fields.append(field)
            }
        }
        list = modifiers > 0 ? nil : fields
    }

    /// The fields chosen, in perf's order of columns.
    func resolved(defaults: [ScriptField]) -> [ScriptField] {
        var fields = list ?? defaults
        for change in changes {
            switch change {
            case .add(let field): if !fields.contains(field) { fields.append(field) }
            case .remove(let field): fields.removeAll { $0 == field }
            }
        }
        return fields
    }

    var description: String { text }
}
