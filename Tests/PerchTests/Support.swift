import Foundation
import TestSupport

/// Paths and helpers shared by the end-to-end tests: they run the real `perch` binary on
/// fixtures compiled here, on the real kernel.
enum Support {
    static var packageRoot: String { TestPaths.packageRoot }

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
    static var workDirectory: String { TestPaths.scratchDirectory }

    /// Compiles `Fixtures/NAME.c` with clang, frame pointers everywhere (leaf included), once.
    static func fixture(_ name: String, flags: [String] = CCompiler.framePointerFlags) throws -> String {
        try CCompiler.fixture(name, flags: flags, linking: ["-lpthread"])
    }

    typealias Outcome = ProcessOutcome

    /// Runs a program (looked up in PATH when not a path) in the work directory and collects its output.
    @discardableResult
    static func run(_ program: String, _ arguments: [String], directory: String? = nil,
                    afterLaunch: ((Process) -> Void)? = nil) throws -> Outcome {
        try ProcessRunner.run(program, arguments, directory: directory ?? workDirectory, afterLaunch: afterLaunch)
    }

    /// Runs perch with `arguments`.
    @discardableResult
    static func perch(_ arguments: [String], afterLaunch: ((Process) -> Void)? = nil) throws -> Outcome {
        try run(perch, arguments, afterLaunch: afterLaunch)
    }

    /// The report `perch record -- CMD` printed. It goes to stderr when stdout is not a terminal (the
    /// command's output stays the user's), after Perch's own `perch: ...` lines.
    static func report(ofRecording outcome: Outcome) -> String {
        outcome.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("perch: ") }.joined(separator: "\n")
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
