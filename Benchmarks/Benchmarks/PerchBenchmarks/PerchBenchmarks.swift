import Benchmark
import Glibc
import PerfEvents
import PerfRecords
import Profiling
import Reporting
import Symbolication

/// A recording-shaped workload: `count` samples over a few hundred distinct frame-pointer
/// stacks in one mapped executable, as Perch writes them.
enum Workload {
    static func attributes() -> EventAttributes {
        var attributes = EventAttributes(kind: .cpuClock)
        attributes.samplePeriodOrFrequency = 4000
        attributes.flags = [.frequency, .sampleIDAll, .mmap2, .comm]
        attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period, .callchain]
        return attributes
    }

    static func sample(index: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        let depth = 8 + index % 8
        put(RecordType.sample.rawValue); put(UInt16(2)); put(UInt16(8 + 7 * 8 + 8 * (depth + 1)))
        put(UInt64(1))                       // identifier
        put(UInt64(0x40_1000 + (index % 97) * 16))  // ip
        put(UInt32(100)); put(UInt32(100 + index % 4))
        put(UInt64(index))                   // time
        put(UInt64(index % 2))               // cpu
        put(UInt64(250_000))                 // period
        put(UInt64(depth + 1))
        put(CallchainContext.user.rawValue)
        for level in 0..<depth { put(UInt64(0x40_1000 + ((index / (level + 1)) % 31) * 64 + level * 4096)) }
        return bytes
    }

    /// Raw sample bytes back to back, as a drained ring holds them.
    static func buffer(count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 160)
        for index in 0..<count { bytes += sample(index: index) }
        return bytes
    }

    /// A perf.data file with a COMM, an MMAP2 of /proc/self/exe-like path and `count` samples.
    static func file(count: Int) throws -> String {
        let path = "/tmp/perch-bench-\(getpid())-\(count).data"
        let writer = try PerfDataWriter(path: path, events: [EventDescription(attributes: attributes(), ids: [1])])
        var mmap: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { mmap += $0 } }
        let name = Array("/usr/bin/true".utf8) + [0, 0, 0]
        put(RecordType.mmap2.rawValue); put(UInt16(2)); put(UInt16(8 + 64 + name.count + 40))
        put(UInt32(100)); put(UInt32(100)); put(UInt64(0x40_0000)); put(UInt64(0x10_0000)); put(UInt64(0))
        put(UInt32(0)); put(UInt32(0)); put(UInt64(0)); put(UInt64(0)); put(UInt32(5)); put(UInt32(2))
        mmap += name
        for _ in 0..<5 { put(UInt64(0)) }
        mmap.withUnsafeBytes { writer.append($0) }
        for index in 0..<count { sample(index: index).withUnsafeBytes { writer.append($0) } }
        try writer.finish(features: PerfDataFeatures())
        return path
    }
}

nonisolated(unsafe) let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(5)
    Benchmark.defaultConfiguration.maxIterations = 20

    Benchmark("decode 100k samples", configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], scalingFactor: .kilo)) { benchmark in
        let buffer = Workload.buffer(count: 100_000)
        let decoder = RecordDecoder(events: [EventDescription(attributes: Workload.attributes(), ids: [1])])
        benchmark.startMeasurement()
        buffer.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                var offset = 0, frames = 0
                while offset < raw.count {
                    let size = Int(raw.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
                    if case .sample(let sample)? = try? decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + size])) {
                        frames &+= sample.callchain.count
                    }
                    offset += size
                }
                blackHole(frames)
            }
        }
    }

    Benchmark("read and aggregate 1M-sample perf.data", configuration: .init(metrics: [.wallClock, .peakMemoryResident], maxIterations: 3)) { benchmark in
        let path = try Workload.file(count: 1_000_000)
        defer { unlink(path) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let file = try PerfDataFile(path: path)
            blackHole(try ProfileBuilder(file: file, symbolizer: ELFSymbolizer()).build())
        }
    }

    Benchmark("text report and folded output for 1M samples", configuration: .init(metrics: [.wallClock], maxIterations: 5)) { benchmark in
        let path = try Workload.file(count: 1_000_000)
        defer { unlink(path) }
        let profile = try ProfileBuilder(file: try PerfDataFile(path: path), symbolizer: ELFSymbolizer()).build()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(TextReport.render(profile, options: ReportOptions()))
            blackHole(FoldedWriter.write(profile, options: FoldedOptions()))
        }
    }
}
