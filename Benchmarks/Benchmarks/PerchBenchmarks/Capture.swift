import Foundation
import Glibc
import PerfABI
import PerfRecords
import Unwinding

/// A real `--call-graph dwarf` recording of CPython running a recursive function, made once by
/// `perch record` (by `perf record` when no release perch is built) and reused by later runs, so
/// the unwinding benchmarks see the same samples each time. Delete the file to record afresh.
enum DWARFCapture {
    static let frequency = 2000

    static func file() throws -> String {
        let path = "\(Inputs.scratch)/perch-bench-dwarf-v1.data"
        if access(path, R_OK) == 0 { return path }
        guard access(Inputs.python, X_OK) == 0 else { throw BenchmarkSetupError("no \(Inputs.python) to record") }
        let temporary = path + ".\(getpid()).tmp"
        let workload = [Inputs.python, "-c", """
            import time
            def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
            end = time.time() + 1.5
            while time.time() < end: fib(18)
            """]
        let recorder: [String]
        if let perch = Inputs.perch {
            recorder = [perch, "record", "-q", "-e", "cpu-clock", "--call-graph", "dwarf", "-F", "\(frequency)", "-o", temporary, "--"]
        } else {
            recorder = ["/usr/bin/env", "perf", "record", "-q", "--call-graph", "dwarf", "-e", "cpu-clock",
                        "-F", "\(frequency)", "-o", temporary, "--"]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: recorder[0])
        process.arguments = Array(recorder.dropFirst()) + workload
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0, rename(temporary, path) == 0 else {
            throw BenchmarkSetupError("\(recorder.joined(separator: " ")) failed (\(process.terminationStatus))")
        }
        return path
    }
}
