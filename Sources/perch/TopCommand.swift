import ArgumentParser
import PerfABI
import PerfEvents
import ProfileModel
import Recording
import Reporting
#if canImport(Glibc)
import Glibc
#endif

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of where the time goes, redrawn every few seconds.",
        discussion: """
        Samples into the per-CPU rings as perch record does (no file unless --output) and redraws every -d seconds.
        Without -p, -t or -a: the whole machine where that is allowed (root, CAP_PERFMON, or kernel.perf_event_paranoid <= 0), else every process of your own user, with a note saying how to see more.

        On a terminal, a full-screen view: q quit, z zero, d decay on/off, s next sort order, c children on/off, arrow keys select a row and g shows its call tree, k / u kernel / user only, / filter by symbol, ? help. Ctrl-C quits too; the terminal is restored on every exit.
        With --stdio, or when standard output is not a terminal: a table every refresh (--limit rows); --json: one JSON object per line and refresh.

        Call graphs are frame-pointer chains (--call-graph fp, the default) or none: a DWARF stack copy per sample costs too much to unwind live, so use perch record for DWARF stacks.
        """
    )

    @Option(name: [.short, .customLong("pid")], help: "Only these processes (comma-separated).")
    var pid: TaskIDList?

    @Option(name: [.short, .customLong("tid")], help: "Only these threads (comma-separated).")
    var tid: TaskIDList?

    @Flag(name: [.short, .customLong("all-cpus")], help: "The whole machine (needs CAP_PERFMON or kernel.perf_event_paranoid <= 0); the default where allowed.")
    var allCPUs = false

    @Option(name: [.short, .customLong("event")], help: "One event, as perf spells it: cycles (default; falls back to cpu-clock without a PMU), cpu-clock, task-clock, page-faults, cpu-clock:u, ...")
    var event: EventList?

    @Option(name: [.customShort("F"), .customLong("freq")], help: "Samples per second, or max.")
    var frequency = Frequency(4000)

    @Option(name: [.short, .customLong("delay")], help: "Seconds between refreshes.")
    var delay = Seconds(2)

    @Flag(name: .customShort("g"), help: "Show the children (inclusive) column, as perf top -g.")
    var graph = false

    @Option(name: .customLong("call-graph"), help: "fp (frame-pointer chains, the default) or none. DWARF is not offered live: see above.")
    var callGraph: CallGraphMode?

    @Flag(inversion: .prefixedNo, help: "Show inclusive (children) totals beside self overhead.")
    var children = false

    @Option(name: [.customShort("s"), .long], help: "Sort keys, comma-separated: comm, pid, tid, dso, sym.")
    var sort = SortKeyList([.comm, .dso, .sym])

    @Option(name: .long, help: "Only the samples of these commands (comma-separated names).")
    var comm: String?

    @Flag(name: .long, help: "Print a table every refresh instead of the full-screen view.")
    var stdio = false

    @Option(name: .long, help: "Rows per --stdio table.")
    var limit = PositiveCount(20)

    @Flag(name: .long, help: "Print one JSON object (one line) per refresh.")
    var json = false

    @Option(name: [.short, .customLong("output")], help: "Also write what was sampled to this perf.data file, for perch report later.")
    var output: RecordOutputPath?

    @Flag(name: .customLong("user-only"), help: "Leave kernel code out even when allowed.")
    var userOnly = false

    mutating func validate() throws {
        if [pid != nil, tid != nil, allCPUs].filter({ $0 }).count > 1 { throw ValidationError("give only one of -p, -t, -a") }
        if let callGraph, callGraph != .framePointer, callGraph != .none {
            throw ValidationError("--call-graph \(callGraph): perch top unwinds frame-pointer chains (fp) or none; DWARF stack copies cost too much live — use perch record --call-graph dwarf")
        }
        if stdio && json { throw ValidationError("give only one of --stdio, --json") }
        if let event, event.events.count != 1 { throw ValidationError("perch top shows one event at a time; '\(event)' names \(event.events.count) (perch record -e records several)") }
    }

    func run() throws {
        var notes: [ReportNote] = []
        let target: RecordingTarget
        let targetText: String
        if allCPUs {
            target = .systemWide(cpus: nil, command: nil)
            targetText = "whole machine"
        } else if let pid {
            target = .attach(pids: pid.ids)
            targetText = "pid " + pid.ids.map(String.init).joined(separator: ",")
        } else if let tid {
            target = .threads(tid.ids)
            targetText = "tid " + tid.ids.map(String.init).joined(separator: ",")
        } else if PrivilegeProbe.run().mayProfileSystemWide {
            target = .systemWide(cpus: nil, command: nil)
            targetText = "whole machine"
        } else {
            let uid = getuid()
            let own = OwnProcesses.of(uid: uid)
            target = .attach(pids: own)
            targetText = "\(own.count) processes of uid \(uid)"
            let paranoid = KernelSettings.read().paranoid.map(String.init) ?? "unreadable"
            notes.append(ReportNote(.other, "showing only the \(own.count) processes of uid \(uid) that existed at start (and the children they start): the whole machine needs CAP_PERFMON or kernel.perf_event_paranoid <= 0 (it is \(paranoid)); to see it: sudo perch top, setcap cap_perfmon+ep $(which perch), or sysctl kernel.perf_event_paranoid=0"))
        }

        var options = RecordOptions(target: target)
        options.events = event?.events ?? [EventSpecification(source: .known(.cpuCycles))]
        options.frequency = frequency.value
        options.callGraph = callGraph ?? .framePointer
        options.leafRepair = false
        options.kernel = !userOnly
        options.commandLine = CommandLine.arguments
        if let output { options.outputPath = output.path }

        let recorder = Recorder(options: options)
        recorder.writesFile = output != nil
        let view = TopView(sortKeys: sort.keys, children: children || graph, hasCallChains: options.callGraph != .none)
        var filter = ProfileFilter()
        if let comm { filter.comms = Set(comm.split(separator: ",").map { String($0).trimmingCharacters(in: " ") }) }

        let sessionOutput: TopSession.Output
        var terminal: TopTerminal?
        if json {
            sessionOutput = .json
        } else if stdio || isatty(1) == 0 {
            sessionOutput = .table(limit: Int(clamping: limit.value))
        } else if let screen = TopTerminal() {
            terminal = screen
            sessionOutput = .screen(screen)
        } else {
            sessionOutput = .table(limit: Int(clamping: limit.value))
        }
        if terminal == nil { for note in notes { printError("perch: note: \(note.text)") } }
        signal(SIGPIPE, SIG_IGN)
        let session = TopSession(output: sessionOutput, interval: delay.value, target: targetText, filter: filter,
                                 notes: notes, view: view)
        recorder.consumer = session
        let result: RecordingResult
        do {
            result = try recorder.run()
            terminal?.restore()
        } catch let error as RecordingError {
            terminal?.restore()
            throw PerchError.recording(error)
        } catch {
            terminal?.restore()
            throw PerchError.recording(.output("\(error)"))
        }
        if let output {
            printError("perch: wrote \(output.path) (\(result.samples) samples, \(result.lostRecords) lost)")
        }
        if let failure = session.writeFailure, !failure.isBrokenPipe { throw PerchError.write(failure) }
        if case .attachedExited = result.ending { printError("perch: every process watched has exited") }
    }
}
