import Foundation

/// Paths and helpers shared by the end-to-end tests: they run the real `perch` binary on
/// fixtures compiled here, on the real kernel.
enum Support {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The `perch` built next to the tests (`swift build` builds it; `.ci/run` does that first).
    static let perch: String = {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("perch").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return packageRoot + "/.build/debug/perch"
    }()

    /// A scratch directory readable by every user (the unprivileged tests write into it too).
    static let workDirectory: String = {
        let path = NSTemporaryDirectory() + "perch-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o1777)
        return path
    }()

    /// Compiles `Fixtures/NAME.c` with clang, frame pointers everywhere (leaf included), once.
    static func fixture(_ name: String, flags: [String] = ["-O2", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"]) throws -> String {
        let output = workDirectory + "/" + name + (flags.contains("-fomit-frame-pointer") ? "-nofp" : "")
        if FileManager.default.fileExists(atPath: output) { return output }
        let result = try run("clang", flags + ["-o", output, packageRoot + "/Fixtures/\(name).c", "-lpthread"])
        guard result.status == 0 else { throw TestFailure("clang failed for \(name): \(result.stderr)") }
        chmod(output, 0o755)
        return output
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a program (looked up in PATH when not a path) and collects its output.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], directory: String? = nil,
                    afterLaunch: ((Process) -> Void)? = nil) throws -> Outcome {
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [program] + arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? workDirectory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        afterLaunch?(process)
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Outcome(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs perch with `arguments`.
    @discardableResult
    static func perch(_ arguments: [String], afterLaunch: ((Process) -> Void)? = nil) throws -> Outcome {
        try run(perch, arguments, afterLaunch: afterLaunch)
    }

    static var isRoot: Bool { geteuid() == 0 }

    static func commandExists(_ name: String) -> Bool {
        (try? run("sh", ["-c", "command -v \(name)"]))?.status == 0
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads the `--json` report's entries.
struct JSONReport {
    var entries: [[String: Any]]
    var summary: [String: Any]

    init(_ text: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestFailure("report is not a JSON object")
        }
        entries = object["entries"] as? [[String: Any]] ?? []
        summary = object["summary"] as? [String: Any] ?? [:]
    }

    /// The children (inclusive) percentage of the entry for `symbol`.
    func children(of symbol: String) -> Double? {
        entries.first { $0["symbol"] as? String == symbol }.flatMap { $0["children"] as? Double }
    }
}
