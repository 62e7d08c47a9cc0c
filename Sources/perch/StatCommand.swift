import ArgumentParser
import Counting
import PerfABI
import PerfEvents
import Recording
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// `-I`: milliseconds between interval prints, at least 10 as perf requires.
struct IntervalMilliseconds: ExpressibleByArgument, CustomStringConvertible {
    var value: Int

    init?(argument: String) {
        guard let value = Int(argument), value >= 10, value <= 86_400_000 else {
            RejectedValue.reject("must be a whole number of milliseconds from 10 to 86400000"); return nil
        }
        self.value = value
    }

    var description: String { "\(value)" }
}

/// `-r`: how many times to run the command, 1 to 10000.
struct RepeatCount: ExpressibleByArgument, CustomStringConvertible {
    var value: Int

    init?(argument: String) {
        guard let value = Int(argument), value >= 1, value <= 10_000 else {
            RejectedValue.reject("must be a whole number from 1 to 10000"); return nil
        }
        self.value = value
    }

    var description: String { "\(value)" }
}

struct StatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Count events of a command, of running processes or threads, or system-wide (perf stat).",
        discussion: """
        perch stat [options] -- CMD [ARGS]   counts CMD (its threads and children) and exits with its status.
        perch stat -p PID[,PID...]           counts running processes until Ctrl-C, a command after --, or their exit.
        The table goes to standard error, as perf's does; -x SEP and -j print perf's CSV columns and JSON keys.
        """
    )

    @Option(name: [.short, .customLong("event")], parsing: .singleValue,
            help: "Events to count: names, rHEX, SUBSYS:NAME, :u/:k modifiers, {a,b} groups (default: perf's set).")
    var event: [EventList] = []

    @Option(name: [.short, .customLong("pid")], help: "Count these processes (comma-separated).")
    var pid: TaskIDList?

    @Option(name: [.short, .customLong("tid")], help: "Count these threads (comma-separated).")
    var tid: TaskIDList?

    @Flag(name: [.short, .customLong("all-cpus")], help: "System-wide: every task on every CPU (needs CAP_PERFMON or kernel.perf_event_paranoid <= 0).")
    var allCPUs = false

    @Option(name: [.customShort("C"), .customLong("cpu")], help: "With -a, only these CPUs (e.g. 0,2-3).")
    var cpuList: CPUList?

    @Flag(name: [.customShort("A"), .customLong("no-aggr")], help: "With -a, a line per CPU.")
    var noAggregation = false

    @Flag(name: .customLong("per-thread"), help: "With -p or -t, a line per thread.")
    var perThread = false

    @Option(name: [.short, .customLong("repeat")], help: "Run the command N times; print means and their spread (+- %).")
    var `repeat`: RepeatCount?

    @Option(name: [.customShort("I"), .customLong("interval-print")], help: "Print the counts of every MS milliseconds.")
    var interval: IntervalMilliseconds?

    @Option(name: [.customShort("x"), .customLong("field-separator")], help: "perf's CSV: fields separated by SEP.")
    var separator: String?

    @Flag(name: [.short, .customLong("json-output")], help: "perf's JSON: one object per line.")
    var json = false

    @Option(name: [.short, .customLong("output")], help: "Write the counts to FILE instead of standard error.")
    var output: String?

    @Argument(parsing: .captureForPassthrough, help: "The command to count, after --.")
    var command: [String] = []

    mutating func validate() throws {
        if command.first == "--help" || command.first == "-h" { throw CleanExit.helpRequest(self) }
        if command.first == "--" { command.removeFirst() }
        let targets = [pid != nil, tid != nil, allCPUs].filter { $0 }.count
        if targets == 0 && command.isEmpty { throw ValidationError("nothing to count: give a command after --, or -p PID, -t TID, or -a") }
        if targets > 1 { throw ValidationError("give only one of -p, -t, -a (a command after them bounds the counting)") }
        if cpuList != nil && !allCPUs { throw ValidationError("-C/--cpu needs -a") }
        if noAggregation && !allCPUs { throw ValidationError("-A/--no-aggr needs -a") }
        if perThread && pid == nil && tid == nil { throw ValidationError("--per-thread needs -p or -t") }
        if let separator, separator.isEmpty { throw ValidationError("-x needs a separator, such as -x,") }
        if separator != nil && json { throw ValidationError("give only one of -x and -j") }
        if let count = self.repeat?.value, count > 1 {
            if command.isEmpty { throw ValidationError("-r repeats a command: give one after --") }
            if interval != nil { throw ValidationError("-r and -I cannot be combined") }
            if pid != nil || tid != nil { throw ValidationError("-r repeats a launched command; it cannot repeat -p or -t") }
        }
    }

    private var format: StatFormat {
        if let separator { return .csv(separator: separator) }
        return json ? .json : .human
    }

    /// How the human heading names what was counted.
    private var subject: String {
        if allCPUs { return "'system wide'" }
        if let pid { return "process id '\(pid.ids.map(String.init).joined(separator: ","))'" }
        if let tid { return "thread id '\(tid.ids.map(String.init).joined(separator: ","))'" }
        return "'\(command.joined(separator: " "))'"
    }

    func run() throws {
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
        var options = StatOptions(target: target)
        options.events = event.isEmpty ? nil : event.flatMap(\.groups)
        if pid != nil || tid != nil, !command.isEmpty { options.boundingCommand = command }
        options.repeats = self.repeat?.value ?? 1
        options.intervalMilliseconds = interval?.value
        options.perThread = perThread
        options.perCPU = noAggregation

        let sink = try StatSink(path: output)
        let runner: StatRunner
        do {
            runner = try StatRunner(options: options)
        } catch {
            throw PerchError.refused(error.description)
        }
        for note in runner.notes { printError("perch: note: \(note)") }
        let format = self.format
        // perf's table groups digits by the locale (`%'`); CSV and JSON stay in the C locale, so
        // their decimal point is always a dot.
        if format == .human { setlocale(LC_NUMERIC, "") }
        var intervals = 0
        runner.onInterval = { lines in
            var text = ""
            if format == .human, intervals % 25 == 0 { text += StatFormat.intervalHeading(aggregate: lines.first?.aggregate) }
            intervals += 1
            for line in lines { text += format.format(line) }
            sink.write(text)
        }
        let result: StatResult
        do {
            result = try runner.run()
        } catch let error as CountingError {
            if let code = error.errno, code == EACCES || code == EPERM { throw PerchError.refused(error.description) }
            throw PerchError.recording(.output(error.description))
        }
        for note in runner.notes.dropFirst(runner.plan.degradations.count) { printError("perch: note: \(note)") }
        if interval == nil {
            var text = ""
            if format == .human { text += StatFormat.heading(for: subject, runs: options.repeats) }
            for line in result.lines { text += format.format(line) }
            if format == .human {
                text += StatFormat.footer(elapsed: result.elapsed, userSeconds: options.repeats == 1 ? result.userSeconds : nil,
                                          systemSeconds: options.repeats == 1 ? result.systemSeconds : nil)
            }
            sink.write(text)
        }
        if let failure = sink.failure { throw PerchError.write(failure) }
        if let status = result.commandStatus, status != 0 { throw PerchError.commandExited(status: status) }
        if let signal = result.interruptedBy, result.commandStatus == nil, command.isEmpty == false {
            throw PerchError.commandExited(status: 128 + signal)
        }
    }
}

/// Where the counts go: standard error (perf's habit), or the `-o` file. A failed write is kept
/// and reported once at the end.
final class StatSink {
    private let descriptor: Int32
    private let path: String?
    private(set) var failure: WriteError?

    init(path: String?) throws(PerchError) {
        self.path = path
        guard let path else { descriptor = 2; return }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .write(WriteError(path: path, errno: errno)) }
        descriptor = fd
        // perf's first line in an -o file.
        var now = time(nil)
        var buffer = [CChar](repeating: 0, count: 64)
        var parts = tm()
        localtime_r(&now, &parts)
        let length = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        write("# started on \(String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))\n\n")
    }

    deinit { if path != nil { close(descriptor) } }

    func write(_ text: String) {
        guard failure == nil else { return }
        var text = text
        let errorCode = text.withUTF8 { bytes -> Int32? in
            do throws(Errno) { try writeAll(descriptor, UnsafeRawBufferPointer(bytes)) } catch { return error.code }
            return nil
        }
        if let errorCode { failure = WriteError(path: path ?? "standard error", errno: errorCode) }
    }
}

extension StatCommand {
    /// perf's short options take attached values (`-x,`, `-I100`, `-r3`, `-ecycles`), which
    /// argument-parser reads as flag clusters; for `stat`, up to `--`, they are split in two.
    static func separatingAttachedValues(_ arguments: [String]) -> [String] {
        guard arguments.first == "stat" else { return arguments }
        var result: [String] = []
        var passthrough = false
        for argument in arguments {
            if passthrough || argument == "--" {
                passthrough = true
                result.append(argument)
                continue
            }
            let characters = Array(argument)
            if characters.count > 2, characters[0] == "-", characters[1] != "-", "xIreptCo".contains(characters[1]) {
                result.append(String(characters[0...1]))
                result.append(String(characters[2...]))
            } else {
                result.append(argument)
            }
        }
        return result
    }
}
