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

/// The executable mappings of each process in a recording, as the unwinder asks for them.
final class CaptureMaps {
    struct Mapping {
        var start: UInt64
        var end: UInt64
        var pageOffset: UInt64
        var module: Int32
    }

    private(set) var byPID: [Int32: [Mapping]] = [:]
    private(set) var paths: [String] = []
    private(set) var buildIDs: [[UInt8]?] = []
    private var moduleIDs: [String: Int32] = [:]

    init(file: PerfDataFile) throws {
        let decoder = RecordDecoder(events: file.events)
        try file.forEachRecord { record, _ in
            switch try? decoder.decode(record) {
            case .mmap(let mmap)?:
                guard mmap.pid != -1, mmap.isExecutable else { return }
                let path = mmap.filename
                let module = moduleIDs[path] ?? {
                    let id = Int32(paths.count)
                    paths.append(path)
                    buildIDs.append(mmap.buildID.map(Array.init))
                    moduleIDs[path] = id
                    return id
                }()
                byPID[mmap.pid, default: []].append(Mapping(start: mmap.start, end: mmap.start + mmap.length,
                                                            pageOffset: mmap.pageOffset, module: module))
            case .comm(let comm)? where comm.isExec:
                byPID[comm.pid] = []
            default:
                break
            }
        }
        for pid in byPID.keys { byPID[pid]!.sort { $0.start < $1.start } }
    }

    /// One process's view.
    func space(pid: Int32) -> Space { Space(mappings: byPID[pid] ?? [], maps: self) }

    struct Space: UnwindAddressSpace {
        let mappings: [Mapping]
        let maps: CaptureMaps

        func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? {
            var low = 0, high = mappings.count
            while low < high {
                let middle = (low + high) / 2
                if mappings[middle].start <= address { low = middle + 1 } else { high = middle }
            }
            guard low > 0 else { return nil }
            let mapping = mappings[low - 1]
            guard address < mapping.end else { return nil }
            return (mapping.module, address - mapping.start + mapping.pageOffset)
        }

        func path(ofModule module: Int32) -> String { maps.paths[Int(module)] }
        func buildID(ofModule module: Int32) -> [UInt8]? { maps.buildIDs[Int(module)] }
    }
}
