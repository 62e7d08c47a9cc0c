import ArgumentParser
import PerfABI
import ProfileModel
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

        The command is the first word that is not an option, or what follows --:
        an unknown option before it is an error; what comes after it is the command's.

        Where Perch differs from perf record on purpose:
          Call graphs are always recorded (-g is accepted).
          -o defaults to perch.data, so perf.data is never overwritten.
          -s is the printed report's --sort (perf's -s/--stat is refused).
          -q hides the status line and the report, not notes and errors.
          The report is printed at the end (--no-report: perf's way).
        """
    )

    @Option(name: [.short, .customLong("output")], help: "The perf.data file to write (default perch.data; perf's default is perf.data).")
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

    @Option(name: [.customShort("F"), .customLong("freq")], parsing: .unconditional, help: "Samples per second, or max (clamped to kernel.perf_event_max_sample_rate).")
    var frequency = Frequency(4000)

    @Option(name: [.customShort("c"), .customLong("period")], parsing: .unconditional, help: "Sample every N events instead of by frequency.")
    var period: PositiveCount?

    @Option(name: [.short, .customLong("event")], help: "Events to sample, comma-separated, as perf spells them: cycles (default; falls back to cpu-clock without a PMU), instructions, cpu-clock, task-clock, page-faults, ..., rNNNN (raw), SUBSYS:NAME (tracepoint, e.g. sched:sched_switch), each with perf's modifiers :u :k :h :p :pp :ppp :P. The first is the main event; -e may be repeated. perch list shows what this machine offers.")
    var event: [EventList] = []

    @Flag(name: .customLong("cpu-wide-tracepoints"), help: .hidden)
    var cpuWideTracepoints = false

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

    @Flag(name: .customLong("all-kernel"), help: "Sample the kernel only (exclude_user), as perf's --all-kernel; refused where kernel.perf_event_paranoid forbids kernel sampling.")
    var allKernel = false

    @Flag(name: [.customShort("T"), .customLong("timestamp")], help: "Accepted for perf compatibility: Perch always records each sample's time.")
    var timestamps = false

    @Flag(name: .customShort("P"), help: "Accepted for perf compatibility (perf's --period): Perch always records each sample's period. (Perch's --period is -c.)")
    var recordPeriod = false

    @Flag(name: [.customShort("N"), .customLong("no-buildid-cache")], help: "Accepted for perf compatibility: Perch keeps no build-id cache (~/.debug); it reads the binaries where they are.")
    var noBuildIDCache = false

    @Flag(name: [.customShort("z"), .customLong("compress")], help: "Refused: Perch does not compress perf.data (perf's zstd records) yet.")
    var compress = false

    @Option(name: .customLong("compression-level"), help: .hidden)
    var compressionLevel: String?

    @Flag(name: .customLong("stat"), help: "Refused: Perch keeps no per-thread event counts (perf record -s/--stat); perch report --threads gives samples per thread. (-s is Perch's report --sort.)")
    var perThreadStat = false

    @Flag(name: .customLong("no-report"), help: "Do not print the report when the recording ends.")
    var noReport = false

    @Flag(name: [.short, .customLong("quiet")], help: "No status line and no report.")
    var quiet = false

    @OptionGroup var report: ReportArguments

    @Argument(parsing: .captureForPassthrough, help: "The command to launch: its first word ends perch's options (or --).")
    var command: [String] = []

    mutating func validate() throws {
        // Passthrough capture also takes a leading --help; anything after -- is the command's.
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        // Passthrough capture starts at the first word perch does not know: an option word there
        // is a mistyped or unknown option, not a command (only what follows -- may begin with -).
        if let first = command.first, first.hasPrefix("-"), first != "-", first != "--" {
            throw ValidationError(PerfOnlyOptions.refusal(first, subcommand: "record") ?? Self.unknownOptionMessage(first))
        }
        if command.first == "--" { command.removeFirst() }
        if compress || compressionLevel != nil {
            throw ValidationError("-z/--compression-level: Perch does not compress perf.data yet; record without it")
        }
        if perThreadStat {
            throw ValidationError("--stat: Perch keeps no per-thread event counts; perch report --threads gives samples per thread")
        }
        if allKernel && userOnly { throw ValidationError("--all-kernel and --all-user/--user-only exclude each other: give one") }
        let targets = [pid != nil, tid != nil, !command.isEmpty && !allCPUs, allCPUs].filter { $0 }.count
        if targets == 0 { throw ValidationError("nothing to record: give a command after --, or -p PID, -t TID, or -a") }
        if targets > 1 { throw ValidationError("give only one of: a command, -p, -t, -a (a command after -a bounds the recording)") }
        if cpuList != nil && !allCPUs { throw ValidationError("-C/--cpu needs -a") }
        if let refusal = ringRefusal { throw ValidationError(refusal) }
    }

    /// The one line for an option word perch does not know, as argument-parser words its own.
    static func unknownOptionMessage(_ word: String) -> String {
        let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
        return "Unknown option '\(name)' (the command to record follows the options, or --)"
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

    /// Finds, before anything is planned or printed, a command that cannot be run, as execvp
    /// would: a missing one is 127, one that is there but cannot be executed 126, in one line.
    /// (The launcher's own exec failure still answers the same way if the file changes meanwhile.)
    private func checkCommandRunnable() throws(PerchError) {
        guard let name = command.first else { return }
        func problem(_ path: String) -> Int32? {
            var info = stat()
            guard stat(path, &info) == 0 else { return errno }
            if info.st_mode & S_IFMT == S_IFDIR { return EACCES }
            return access(path, X_OK) == 0 ? nil : errno
        }
        var failure: Int32?
        if name.contains("/") {
            failure = problem(name)
        } else {
            // execvp's search: the first runnable file wins; EACCES is kept over ENOENT.
            let path = getenv("PATH").map { String(cString: $0) } ?? "/bin:/usr/bin"
            failure = ENOENT
            for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
                let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
                guard let error = problem(candidate) else { failure = nil; break }
                if error == EACCES { failure = EACCES }
            }
        }
        if let failure { throw .recording(.commandNotFound(name, errno: failure)) }
    }

    func run() throws {
        try checkOutputsWritable()
        try checkCommandRunnable()
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
        options.events = event.isEmpty ? [EventSpecification(source: .known(.cpuCycles))] : event.flatMap(\.events)
        options.cpuWideTracepoints = cpuWideTracepoints
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
        options.user = !allKernel
        options.dataPages = mmapPages.value
        options.outputPath = output.path
        options.duration = duration?.value
        options.commandLine = CommandLine.arguments
        options.contextSwitches = switches

        let recorder = Recorder(options: options)
        // The planner's and the event opening's notes (the cycles fallback, kernel frames left
        // out) are printed before the command runs, not after its output.
        let printed = PrintedNotes()
        recorder.onReady = { notes in printed.print(notes) }
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
        printed.print(result.notes)
        let size = result.bytesWritten >= 1 << 20 ? "\(result.bytesWritten >> 20) MiB" : "\(result.bytesWritten >> 10) KiB"
        // Say what the samples are when there are several kinds (a sched recording's switch-out
        // stacks are samples too, which the on-CPU report does not count).
        let kinds = result.samplesByEvent.count > 1
            ? ": " + result.samplesByEvent.map { "\($0.samples) \($0.event == "context-switches" && switches ? "context-switch stacks" : $0.event)" }.joined(separator: ", ")
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

/// Notes `perch record` has printed, so each is said once: before the command runs, or after the
/// recording for what was learnt while it ran.
private final class PrintedNotes {
    private var texts = Set<String>()

    func print(_ notes: [ReportNote]) {
        for note in notes where texts.insert(note.text).inserted { printError("perch: note: \(note.text)") }
    }
}
