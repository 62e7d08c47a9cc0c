import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the package is, and scratch space for what the tests build and write.
public enum TestPaths {
    /// The package's root directory (this file is Tests/TestSupport/CCompiler.swift).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A scratch directory for this test process, writable by every user (the unprivileged
    /// end-to-end tests write into it too).
    public static let scratchDirectory: String = {
        let path = NSTemporaryDirectory() + "perch-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o1777)
        return path
    }()
}

/// A fresh directory `/tmp/PREFIX-XXXXXX` (mkdtemp); the caller removes it.
public func makeTemporaryDirectory(prefix: String = "perch-test") throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let path: String? = template.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
        return String(cString: base)
    }
    guard let path else { throw CommandFailed(command: ["mkdtemp", prefix], status: errno, output: "") }
    return path
}

/// A fresh temporary directory holding `files` (name: contents).
public func makeTemporaryDirectory(prefix: String = "perch-test", containing files: [String: String]) throws -> String {
    let directory = try makeTemporaryDirectory(prefix: prefix)
    for (name, contents) in files {
        try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    return directory
}

/// Compiles C fixtures: `Fixtures/NAME.c` or a source string, each once per compiler and flags.
/// A build keeps its name (so its COMM is the fixture's name) in a directory of the scratch
/// directory named after the compiler and flags.
public enum CCompiler {
    /// Frame pointers everywhere, leaf functions included.
    public static let framePointerFlags = ["-O2", "-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer"]

    /// Compiles `sources` into `output` with `compiler` (looked up in PATH when not a path):
    /// `compiler flags -o output sources linking`. Throws `CommandFailed` with the diagnostics.
    public static func compile(
        _ sources: [String], to output: String, flags: [String], linking: [String] = [], compiler: String = "clang"
    ) throws {
        try ProcessRunner.output([compiler] + flags + ["-o", output] + sources + linking)
        chmod(output, 0o755)
    }

    /// `Fixtures/NAME.c` built with `flags`, once per test process; returns the binary's path.
    public static func fixture(
        _ name: String, flags: [String] = framePointerFlags, linking: [String] = [], compiler: String = "clang"
    ) throws -> String {
        let source = TestPaths.packageRoot + "/Fixtures/\(name).c"
        return try cached(name: name, key: [compiler, source] + flags + ["--"] + linking) { output in
            try compile([source], to: output, flags: flags, linking: linking, compiler: compiler)
        }
    }

    /// The C `source` built as NAME with `flags`, once per test process; returns the binary's path.
    public static func compile(
        source: String, name: String, flags: [String], linking: [String] = [], compiler: String = "clang"
    ) throws -> String {
        try cached(name: name, key: [compiler, source] + flags + ["--"] + linking) { output in
            let sourcePath = output + ".c"
            try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
            try compile([sourcePath], to: output, flags: flags, linking: linking, compiler: compiler)
        }
    }

    private static let cache = BuildCache()

    private static func cached(name: String, key: [String], build: (String) throws -> Void) throws -> String {
        try cache.lock.withLock {
            let key = key.joined(separator: "\u{1}")
            if let path = cache.built[key] { return path }
            let directory = TestPaths.scratchDirectory + "/cc-" + String(fnv1a(key + "\u{1}" + name), radix: 16)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chmod(directory, 0o755)
            let output = directory + "/" + name
            try build(output)
            cache.built[key] = output
            return output
        }
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

/// What `CCompiler` built in this process, by compiler, source and flags.
private final class BuildCache: @unchecked Sendable {
    let lock = NSLock()
    var built: [String: String] = [:]
}
