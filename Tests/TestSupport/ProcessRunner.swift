import Dispatch
import Foundation

/// What a finished program left: how it ended, and what it wrote.
public struct ProcessOutcome {
    public var reason: Process.TerminationReason
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// A command that exited non-zero, with what it wrote on stderr.
public struct CommandFailed: Error, CustomStringConvertible {
    public let command: [String]
    public let status: Int32
    public let output: String
    public var description: String { "\(command.joined(separator: " ")) exited \(status): \(output)" }
}

/// Runs programs and collects their output.
public enum ProcessRunner {
    /// Runs `program` (looked up in PATH when not a path) and waits for it. Standard output and
    /// error are read concurrently, so a chatty child cannot block on a full pipe. With
    /// `standardOutput` the child writes there instead (and `stdout` is empty); `afterLaunch`
    /// runs once the child has started.
    @discardableResult
    public static func run(
        _ program: String, _ arguments: [String], directory: String? = nil,
        standardInput: FileHandle? = nil, standardOutput: FileHandle? = nil,
        afterLaunch: ((Process) -> Void)? = nil
    ) throws -> ProcessOutcome {
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let standardInput { process.standardInput = standardInput }
        let out = Pipe(), err = Pipe()
        process.standardOutput = standardOutput ?? out
        process.standardError = err
        try process.run()
        afterLaunch?(process)
        let errors = PipeReader(err.fileHandleForReading)
        let outData = standardOutput == nil ? out.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return ProcessOutcome(
            reason: process.terminationReason, status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errors.wait(), as: UTF8.self))
    }

    /// Runs `command` (its first word looked up in PATH when not a path) and returns its standard
    /// output; throws `CommandFailed` with its standard error when it exits non-zero.
    @discardableResult
    public static func output(_ command: [String], directory: String? = nil) throws -> String {
        let outcome = try run(command[0], Array(command.dropFirst()), directory: directory)
        guard outcome.reason == .exit, outcome.status == 0 else {
            throw CommandFailed(command: command, status: outcome.status, output: outcome.stderr)
        }
        return outcome.stdout
    }
}

/// Reads a pipe to its end on another thread.
private final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        DispatchQueue.global().async {
            self.data = handle.readDataToEndOfFile()
            self.done.signal()
        }
    }

    /// Everything the pipe delivered (after its writers closed it).
    func wait() -> Data {
        done.wait()
        return data
    }
}
