import Foundation
import Glibc
import PerfABI
import PerfRecords
import Symbolication

/// Where the benchmarks find their inputs. Every path can be overridden from the environment.
enum Inputs {
    /// The CPython 3.11 shared library: a large C library with DWARF and many inlines.
    static let libpython = ProcessInfo.processInfo.environment["PERCH_BENCH_LIBPYTHON"]
        ?? "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
    static let python = ProcessInfo.processInfo.environment["PERCH_BENCH_PYTHON"]
        ?? "/root/.pyenv/versions/3.11.7/bin/python3.11"

    /// The directory of the Perch package (the parent of `Benchmarks/`), from this file's path.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // PerchBenchmarks, Benchmarks, Benchmarks, (root)
        return url.path
    }()

    /// A release `perch` (a Swift binary with DWARF): `$PERCH`, else the one `Scripts/compare`
    /// builds (`.build-compare`), else the root package's release build, else nil.
    static let perch: String? = {
        if let path = ProcessInfo.processInfo.environment["PERCH"], access(path, X_OK) == 0 { return path }
        for build in [".build-compare", ".build"] {
            let path = packageRoot + "/" + build + "/release/perch"
            if access(path, X_OK) == 0 { return path }
        }
        return nil
    }()

    /// The Swift binary to symbolize: release `perch` when built, else this benchmark
    /// executable (also a release Swift binary, with all of Perch's code in it).
    static let swiftBinary: String = perch ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path

    static let scratch = ProcessInfo.processInfo.environment["PERCH_BENCH_TMP"] ?? "/tmp"
}

/// A recording-shaped synthetic workload: `count` frame-pointer samples over many distinct
/// stacks whose addresses fall inside the `.text` of a real library (libpython when present),
/// so aggregation, symbolization and the writers see real symbol names.
enum Workload {
    static let pid: UInt32 = 100
    static let mapStart: UInt64 = 0x7f00_0000_0000

    static func attributes() -> EventAttributes {
        var attributes = EventAttributes(kind: .cpuClock)
        attributes.samplePeriodOrFrequency = 4000
        attributes.flags = [.frequency, .sampleIDAll, .mmap2, .comm]
        attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period, .callchain]
        return attributes
    }

    static var events: [EventDescription] { [EventDescription(attributes: attributes(), ids: [1])] }

    /// The library the synthetic stacks run in and its executable text: file offset and size.
    static let library: (path: String, textOffset: UInt64, textSize: UInt64) = {
        for path in [Inputs.libpython, Inputs.swiftBinary] {
            if let image = try? ELFImage(path: path),
               let text = image.sections.first(where: { $0.name == ".text" }) {
                return (path, text.fileOffset, text.size)
            }
        }
        return ("/usr/bin/true", 0x1000, 0x1000)
    }()

    /// Distinct stacks in the workload; sample `index` takes stack `stackID(index)`, skewed so a
    /// few stacks are hot and most are rare, as in real profiles (all 50,000 occur in 1M samples).
    static let stackCount = 50_000

    static func stackID(index: Int) -> Int {
        var x = UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29; x &*= 0xBF58_476D_1CE4_E5B9; x ^= x >> 32
        let u = Double(x >> 11) / Double(1 << 53)
        return min(stackCount - 1, Int(Double(stackCount) * u * u * u))
    }

    /// The address of function `choice` at call depth `level`: 4,096 "functions" spread over
    /// the text.
    @inline(__always)
    static func frame(level: Int, choice: Int) -> UInt64 {
        let function = UInt64((level &* 7919 &+ choice &* 104_729) % 4096)
        return mapStart + library.textOffset + function * (library.textSize / 4096) + UInt64(16 + level % 8)
    }

    /// Appends one sample record (header size: 8 + 7 × 8 + 8 × (depth + 1)). Stacks form a call
    /// tree: callers near the root are shared by many stacks (4 roots), the leaf is the stack's own.
    static func appendSample(index: Int, to bytes: inout [UInt8]) {
        let id = stackID(index: index)
        let depth = 8 + id % 8
        var record = RecordEncoder(type: .sample, misc: 2)
        record.append(UInt64(1))                                   // identifier
        record.append(frame(level: depth, choice: id))             // ip
        record.append(pid); record.append(pid + UInt32(id % 4))    // pid, tid
        record.append(UInt64(index))                               // time
        record.append(UInt64(index % 2))                           // cpu
        record.append(UInt64(250_000))                             // period
        record.append(UInt64(depth + 1))                           // nr
        record.append(CallchainContext.user.rawValue)
        // Innermost first; level 0 is the outermost caller.
        for level in stride(from: depth - 1, through: 0, by: -1) {
            record.append(frame(level: level, choice: id / max(1, stackCount >> (2 * (level + 1)))))
        }
        bytes += record.finished()
    }

    /// Raw sample bytes back to back, as a drained ring holds them.
    static func buffer(count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 160)
        for index in 0..<count { appendSample(index: index, to: &bytes) }
        return bytes
    }

    /// A perf.data file with an MMAP2 of the library, then `count` samples in rounds of about
    /// 1 MiB, each ended by FINISHED_ROUND as `perch record` and `perf record` write them; made
    /// once per size and reused by later benchmarks (the name carries the generator's version).
    static func file(count: Int) throws -> String {
        let path = "\(Inputs.scratch)/perch-bench-v4-\(count).data"
        if access(path, R_OK) == 0 { return path }
        let temporary = path + ".\(getpid()).tmp"
        let writer = try PerfDataWriter(path: temporary, events: events)
        var mmap = RecordEncoder(type: .mmap2, misc: 2)
        mmap.append(pid); mmap.append(pid); mmap.append(mapStart); mmap.append(UInt64(1 << 30)); mmap.append(UInt64(0))
        mmap.append(UInt32(0)); mmap.append(UInt32(0)); mmap.append(UInt64(0)); mmap.append(UInt64(0))
        mmap.append(UInt32(5)); mmap.append(UInt32(2))
        mmap.appendString(library.path)
        mmap.appendTrailer(pid: Int32(bitPattern: pid), tid: Int32(bitPattern: pid), id: 1, streamID: 0,
                           sampleType: events[0].attributes.sampleType)
        mmap.finished().withUnsafeBytes { writer.append($0) }
        var chunk: [UInt8] = []
        chunk.reserveCapacity(1 << 20)
        for index in 0..<count {
            appendSample(index: index, to: &chunk)
            if chunk.count >= (1 << 20) - 256 || index == count - 1 {
                chunk.withUnsafeBytes { writer.append($0) }
                writer.appendFinishedRound()
                chunk.removeAll(keepingCapacity: true)
            }
        }
        try writer.finish(features: PerfDataFeatures())
        guard rename(temporary, path) == 0 else { throw BenchmarkSetupError("rename \(temporary) failed") }
        return path
    }

    /// `count` addresses evenly spread over the `.text` of `path`, as link-time virtual addresses.
    static func textAddresses(path: String, count: Int) throws -> [UInt64] {
        let image = try ELFImage(path: path)
        guard let text = image.sections.first(where: { $0.name == ".text" }) else {
            throw BenchmarkSetupError("\(path) has no .text")
        }
        return (0..<UInt64(count)).map { text.address + $0 * text.size / UInt64(count) }
    }
}

struct BenchmarkSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
