import ArgumentParser
import PerfABI
import Profiling
import Recording
import Reporting
#if canImport(Glibc)
import Glibc
#endif

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a profile of a command, or of running processes or threads.",
        discussion: """
        perch record [options] -- CMD [ARGS]   launches CMD, follows its threads and children, and exits with its status.
        perch record -p PID[,PID...]           attaches until Ctrl-C, --duration, or the processes exit.
        """
    )

    @Option(name: [.short, .customLong("output")], help: "The perf.data file to write.")
    var output = RecordOutputPath("perch.data")

    @Option(name: [.short, .customLong("pid")], help: "Attach to these processes (comma-separated).")
    var pid: TaskIDList?

    @Option(name: [.short, .customLong("tid")], help: "Attach to these threads (comma-separated).")
    var tid: TaskIDList?

    @Flag(name: [.short, .customLong("all-cpus")], help: "System-wide: every task on every CPU (needs CAP_PERFMON or kernel.perf_event_paranoid <= 0).")
    var allCPUs = false

    @Option(name: [.customShort("C"), .customLong("cpu")], help: "With -a, only these CPUs (e.g. 0,2-3).")
    var cpuList: CPUList?

    @Flag(name: [.customLong("switches"), .customLong("switch-events")], help: "Also record context switches (PERF_RECORD_SWITCH); --switch-events is perf's spelling.")
    var switches = false

    @Option(name: [.customShort("F"), .customLong("freq")], help: "Samples per second, or max (clamped to kernel.perf_event_max_sample_rate).")
    var frequency = Frequency(4000)

    @Option(name: [.customShort("c"), .customLong("period")], help: "Sample every N events instead of by frequency.")
    var period: PositiveCount?

    @Option(name: [.short, .customLong("event")], help: "cycles (default; falls back to cpu-clock without a PMU), instructions, cpu-clock, task-clock, ...")
    var event: EventKind = .cpuCycles

    @Option(name: .customLong("call-graph"), help: "auto (default; with -a: fp without leaf repair. DWARF unwinding over a user stack copy as large as the ring allows, up to 65528 bytes (32 KiB in the 516 KiB rings perf_event_mlock_kb gives users; only the filled part is written), frame pointers beyond it and where unwind tables are missing), fp (frame pointers, leaf frames repaired), dwarf[,SIZE] (unwind a SIZE-byte user stack copy, default 8192, at most 65528), or none.")
    var callGraph: CallGraphMode?

    @Flag(name: .customShort("g"), help: "Record call graphs (always on; accepted for perf compatibility).")
    var recordCallGraph = false

    @Option(name: .long, help: "Stop after this many seconds.")
    var duration: Seconds?

    @Option(name: [.short, .customLong("mmap-pages")], help: "Ring buffer data pages per CPU (power of two).")
    var mmapPages = RingPageCount(128)

    @Flag(name: [.customLong("user-only"), .customLong("all-user")], help: "Leave kernel code out even when allowed (perf's --all-user).")
    var userOnly = false

    @Flag(name: .customLong("no-report"), help: "Do not print the report when the recording ends.")
    var noReport = false

    @Flag(name: [.short, .customLong("quiet")], help: "No status line and no report.")
    var quiet = false

    @OptionGroup var report: ReportArguments

    @Argument(parsing: .captureForPassthrough, help: "The command to launch, after --.")
    var command: [String] = []

    mutating func validate() throws {
        // Passthrough capture also takes a leading --help; anything after -- is the command's.
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        if command.first == "--" { command.removeFirst() }
        let targets = [pid != nil, tid != nil, !command.isEmpty && !allCPUs, allCPUs].filter { $0 }.count
        if targets == 0 { throw ValidationError("nothing to record: give a command after --, or -p PID, -t TID, or -a") }
        if targets > 1 { throw ValidationError("give only one of: a command, -p, -t, -a (a command after -a bounds the recording)") }
        if cpuList != nil && !allCPUs { throw ValidationError("-C/--cpu needs -a") }
        if let refusal = ringRefusal { throw ValidationError(refusal) }
    }

    /// Bytes a sample takes beside its user stack copy, at most: header, ids, registers, a
    /// kernel and user call chain.
    private static let sampleOverhead = 1024

    /// The user stack copy each sample asks for with these options.
    private var stackCopyBytes: Int {
        let mode = callGraph ?? (allCPUs ? .framePointer : .auto)
        return Int(mode.stackSize)
    }

    private var ringBytes: Int { mmapPages.value * Int(sysconf(Int32(_SC_PAGESIZE))) }

    /// Why a ring of `-m` pages cannot hold even one sample with the stack copy asked for.
    private var ringRefusal: String? {
        let sample = stackCopyBytes + Self.sampleOverhead
        guard stackCopyBytes > 0, ringBytes < sample else { return nil }
        return "-m \(mmapPages.value): a ring of \(ringBytes >> 10) KiB cannot hold one sample with a \(stackCopyBytes)-byte stack copy, so every sample would be lost; use -m \(Self.pages(for: 4 * sample)) or more, or a smaller --call-graph dwarf,SIZE"
    }

    /// A warning when a ring holds only a few samples with the stack copy asked for.
    private var ringWarning: String? {
        let sample = stackCopyBytes + Self.sampleOverhead
        guard stackCopyBytes > 0, ringBytes >= sample, ringBytes < 4 * sample else { return nil }
        return "a ring of \(mmapPages.value) pages holds only \(ringBytes / sample) samples with \(stackCopyBytes)-byte stack copies; expect lost samples (use -m \(Self.pages(for: 4 * sample)) or more)"
    }

    /// The smallest power-of-two page count of at least `bytes`.
    private static func pages(for bytes: Int) -> Int {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var pages = 1
        while pages * pageSize < bytes { pages *= 2 }
        return pages
    }

    /// Finds an output that cannot be written before anything is recorded (not after the
    /// command ran): each file's directory must take a new file, and a file already there must
    /// be writable.
    private func checkOutputsWritable() throws(PerchError) {
        for path in [output.path] + report.outputPaths where path != "-" {
            var info = stat()
            if lstat(path, &info) == 0 {
                let isLink = info.st_mode & S_IFMT == S_IFLNK
                if isLink || access(path, W_OK) != 0 { throw .write(WriteError(path: path, errno: isLink ? ELOOP : errno)) }
                // perch.data is moved aside (to .old): its directory must take that too.
                if path != output.path { continue }
            } else if errno != ENOENT {
                throw .write(WriteError(path: path, errno: errno))
            }
            let slash = path.lastIndex(of: "/")
            let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
            if access(directory, W_OK | X_OK) != 0 { throw .write(WriteError(path: path, errno: errno)) }
        }
    }

    func run() throws {
        try checkOutputsWritable()
        if let ringWarning { printError("perch: warning: \(ringWarning)") }
        let target: RecordingTarget
        if allCPUs {
            target = .systemWide(cpus: cpuList?.cpus, command: command.isEmpty ? nil : command)
        } else if let pid {
            target = .attach(pids: pid.ids)
        } else if let tid {
            target = .threads(tid.ids)
        } else {
            target = .launch(command)
        }
        var options = RecordOptions(target: target)
        options.event = event
        options.frequency = frequency.value
        options.period = period?.value
        if allCPUs && callGraph == nil {
            // System-wide, perf's way: kernel frame-pointer chains only, so 50 kHz on every CPU
            // loses nothing. --call-graph fp/auto/dwarf asks for more.
            options.callGraph = .framePointer
            options.leafRepair = false
        } else {
            options.callGraph = callGraph ?? .auto
        }
        options.kernel = !userOnly
        options.dataPages = mmapPages.value
        options.outputPath = output.path
        options.duration = duration?.value
        options.commandLine = CommandLine.arguments
        options.contextSwitches = switches

        let recorder = Recorder(options: options)
        let status = StatusLine(enabled: !quiet)
        if status.enabled { recorder.onProgress = status.show }
        let result: RecordingResult
        do {
            result = try recorder.run()
            if status.enabled { status.clear() }
        } catch let error as RecordingError {
            if status.shown { status.clear() }
            throw PerchError.recording(error)
        } catch {
            throw PerchError.recording(.output("\(error)"))
        }
        for note in result.notes { printError("perch: note: \(note.text)") }
        let size = result.bytesWritten >= 1 << 20 ? "\(result.bytesWritten >> 20) MiB" : "\(result.bytesWritten >> 10) KiB"
        // Say what the samples are when there are several kinds (a sched recording's switch-out
        // stacks are samples too, which the on-CPU report does not count).
        let kinds = result.samplesByEvent.count > 1
            ? ": " + result.samplesByEvent.map { "\($0.samples) \($0.event == "context-switches" ? "context-switch stacks" : $0.event)" }.joined(separator: ", ")
            : ""
        printError("perch: wrote \(result.outputPath) (\(result.samples) samples\(kinds), \(size), \(result.lostRecords) lost, \(result.ringCount) rings of \(result.dataPagesPerRing) pages, \(result.eventCount) events)")
        if result.interruptedBy == nil, case .targetExited(let status) = result.ending, status > 128 {
            printError("perch: the command was killed by signal \(status - 128); the report covers what ran until then")
        }
        if !quiet && !noReport {
            let profile = try loadProfile(path: result.outputPath)
            // The launched command's output is the user's: the report never goes into it. It is
            // printed on standard output only where that is a terminal (or no command ran), else on
            // standard error, as perf record writes nothing to standard output.
            let descriptor: Int32 = command.isEmpty || isatty(1) != 0 ? 1 : 2
            do {
                try report.emit(profile, colour: isatty(descriptor) != 0, to: descriptor)
            } catch {
                // A reader that stopped early (`| head`) still gets the command's status below.
                if !error.isBrokenPipe { throw PerchError.write(error) }
            }
        } else if report.writesFiles {
            try report.writeFiles(loadProfile(path: result.outputPath))
        }
        // Perch's own interruption first: the command's status then only says it was stopped too.
        if let signal = result.interruptedBy {
            throw PerchError.interrupted(signal: signal, output: result.outputPath)
        }
        var commandStatus: Int32 = 0
        if case .targetExited(let exited) = result.ending { commandStatus = exited }
        if let failure = result.outputFailure {
            throw PerchError.outputCutShort(failure, output: result.outputPath,
                                            status: result.ending == .outputFailed ? PerchError.Code.failure : commandStatus)
        }
        if commandStatus != 0 { throw PerchError.commandExited(status: commandStatus) }
    }
}
