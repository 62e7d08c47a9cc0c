import ArgumentParser
import Recording
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// Every way a command stops early. Commands throw these; `Perch.main` alone prints
/// `perch: error: MESSAGE` and exits with `exitCode`.
enum PerchError: Error, CustomStringConvertible {
    /// The command line is wrong (exit 64, EX_USAGE).
    case usage(String)
    /// The planner or the kernel refused what was asked (exit 77, EX_NOPERM).
    case refused(String)
    /// The recorder could not start or finish the recording.
    case recording(RecordingError)
    /// An input file cannot be read (`-` is standard input).
    case read(FileReadError)
    /// Standard output or an output file cannot be written.
    case write(WriteError)
    /// An input was read but cannot be used (not perf.data, malformed folded stacks, no switch records...).
    case badInput(String)
    /// The recorded command exited with this status; perch exits with it too, saying nothing.
    case commandExited(status: Int32)
    /// Perch itself got SIGINT, SIGTERM or SIGHUP: it stopped the recording, wrote the file and
    /// the report, and exits 128+N as an interrupted program does.
    case interrupted(signal: Int32, output: String)
    /// The output stopped being written (a full disk): the recording stopped there, the file
    /// keeps what fit, and perch exits with the command's status.
    case outputCutShort(String, output: String, status: Int32)

    /// Exit codes beyond the recorded command's own status.
    enum Code {
        /// A runtime failure with a one-line explanation.
        static let failure: Int32 = 1
        /// A bad command line (sysexits' EX_USAGE).
        static let usage: Int32 = 64
        /// The kernel or the planner refused permission (sysexits' EX_NOPERM).
        static let refused: Int32 = PlanRefusal.exitCode
        /// The command to launch exists but cannot be executed (as shells report it).
        static let notExecutable: Int32 = 126
        /// The command to launch does not exist (as shells report it).
        static let commandNotFound: Int32 = 127
    }

    var exitCode: Int32 {
        switch self {
        case .usage: return Code.usage
        case .refused: return Code.refused
        case .recording(let error): return Self.exitCode(for: error)
        case .read, .badInput: return Code.failure
        case .write(let error): return error.isBrokenPipe ? 0 : Code.failure
        case .commandExited(let status): return status
        case .interrupted(let signal, _): return 128 + signal
        case .outputCutShort(_, _, let status): return status
        }
    }

    /// Whether perch exits without a message (the command's own status, or a reader that went away).
    var isQuiet: Bool {
        switch self {
        case .commandExited: return true
        case .write(let error): return error.isBrokenPipe
        default: return false
        }
    }

    private static func exitCode(for error: RecordingError) -> Int32 {
        switch error {
        case .refused(let refusal) where refusal.kind == .noSuchEvent:
            return Code.usage
        case .refused:
            return Code.refused
        case .commandNotFound(_, let errno):
            // execvp's errno, read as shells do: missing → 127, there but not runnable → 126.
            return errno == ENOENT || errno == ENOTDIR ? Code.commandNotFound : Code.notExecutable
        case .eventOpenFailed(let failure, _) where failure.errno == EACCES || failure.errno == EPERM:
            return Code.refused
        case .noSuchProcess, .eventOpenFailed, .ringBufferFailed, .spawnFailed, .output:
            return Code.failure
        }
    }

    var description: String {
        switch self {
        case .usage(let message), .badInput(let message), .refused(let message): return message
        case .recording(let error): return error.description
        case .read(let error): return "cannot read \(error.path == "-" ? "standard input" : error.path): \(error.cause)"
        case .write(let error): return error.description
        case .commandExited(let status): return "the command exited with status \(status)"
        case .interrupted(let signal, let output):
            let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][signal] ?? "signal \(signal)"
            return "interrupted by \(name): the recording stopped there and \(output) keeps it"
        case .outputCutShort(let failure, let output, _):
            return "\(failure): the recording stopped there; \(output) keeps what was written before"
        }
    }
}

/// A write that failed; `path` is nil for standard output.
struct WriteError: Error, CustomStringConvertible {
    var path: String?
    var errno: Int32

    /// Standard output's reader went away (`perch report | head`): not perch's failure.
    var isBrokenPipe: Bool { path == nil && errno == EPIPE }

    var description: String { "cannot write \(path ?? "standard output"): \(Errno(errno).text)" }
}

extension Perch {
    /// Parses the command line, runs the command, and turns whatever it throws into one line on
    /// stderr and an exit code. The only place perch exits early.
    static func main() {
        // A closed stdout is an EPIPE from write(2), handled below, not a signal. (The recorded
        // command gets SIGPIPE back: the launcher resets it before exec.)
        signal(SIGPIPE, SIG_IGN)
        if CommandLine.arguments.count > 1, let advice = Perch.missingSubcommands[CommandLine.arguments[1]] {
            exit(dueTo: PerchError.usage("'perch \(CommandLine.arguments[1])' does not exist (yet): \(advice)"))
        }
        do {
            var command = try parseAsRoot(perfOptionalValues(StatCommand.separatingAttachedValues(Array(CommandLine.arguments.dropFirst()))))
            try command.run()
        } catch {
            exit(dueTo: error)
        }
    }

    /// perf report's `-g` takes its value only when one follows (`-g`, `-g caller`, `-gcaller`,
    /// `--call-graph=fractal,0.5`), which argument-parser cannot say of one option: a `-g` or
    /// `--call-graph` followed by a word becomes `--call-graph WORD`, a bare one `-g`.
    static func perfOptionalValues(_ arguments: [String]) -> [String] {
        guard arguments.first == "report" else { return arguments }
        for word in arguments.dropFirst().prefix(while: { $0 != "--" }) where word.hasPrefix("-") {
            if let refusal = PerfOnlyOptions.refusal(word, subcommand: "report") { exit(dueTo: PerchError.usage(refusal)) }
        }
        var out: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if word == "--" { out += arguments[(index - 1)...]; break }
            if word.hasPrefix("-g"), word.count > 2, !word.hasPrefix("--") {
                out += ["--call-graph", String(word.dropFirst(2))]
            } else if word == "-g" || word == "--call-graph" {
                // perch report takes no positional argument: a word after -g is its spec (and
                // a wrong one is refused as a spec, naming why).
                if index < arguments.count, !arguments[index].hasPrefix("-") {
                    out += ["--call-graph", arguments[index]]
                    index += 1
                } else {
                    out.append("-g")
                }
            } else {
                out.append(word)
            }
        }
        return out
    }

    /// perf subcommands Perch does not have, and what to use instead.
    static let missingSubcommands: [String: String] = [
        "annotate": "there is no annotation; perch report --srcline shows file:line per entry, or use perf annotate",
        "trace": "use perch sched record / perch sched report for context switches, or perf trace",
        "timechart": "perch sched report --timehist lists every switch; perf timechart draws them",
    ]

    static func exit(dueTo error: any Error) -> Never {
        switch error {
        case let error as PerchError:
            if case .interrupted = error {
                printError("perch: \(error)")  // not an error: what was asked for
            } else if !error.isQuiet {
                printError("perch: error: \(error)")
            }
            Glibc.exit(error.exitCode)
        case let error as RecordingError:
            exit(dueTo: PerchError.recording(error))
        case let error as WriteError:
            exit(dueTo: PerchError.write(error))
        case let error as FileReadError:
            exit(dueTo: PerchError.read(error))
        default:
            break
        }
        // argument-parser's own errors: help and version requests, exit codes, and bad command lines.
        let code = exitCode(for: error)
        if code == .success || error is ExitCode { Perch.exit(withError: error) }
        if code == .validationFailure {
            var message = oneLine(message(for: error))
            if let reason = RejectedValue.take() { message += ": \(reason)" }
            exit(dueTo: PerchError.usage(message))
        }
        printError("perch: error: \(error)")
        Glibc.exit(PerchError.Code.failure)
    }

    /// argument-parser lists many allowed values as a bulleted block; perch's errors are one line.
    private static func oneLine(_ message: String) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmed() }
        guard lines.count > 1 else { return lines.first ?? message }
        let items = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
        return lines[0] + " " + items.joined(separator: ", ")
    }
}
