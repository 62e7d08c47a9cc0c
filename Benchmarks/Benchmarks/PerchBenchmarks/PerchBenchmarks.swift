import Benchmark
import Foundation
import Glibc
import PerfABI
import PerfRecords
import Profiling
import Reporting
import Symbolication
import Unwinding
import CaptureReplay

// Perch's benchmarks. Each reports wall time and, as a custom metric, a rate (records, samples or
// addresses per second, or nanoseconds per sample). `thresholds check` compares a run's p90 with
// the values checked in under Thresholds/, within the tolerances `configuration` sets below.
// Names have no spaces or slashes: the plugin writes threshold files with those replaced by `_`
// but reads them back by the raw name. See Benchmarks/README.md.

/// Relative p90 tolerance, in percent, for times and rates (`PERCH_BENCH_TOLERANCE` overrides it):
/// the reference machine is a 2-core VM shared with other work, where one run's p90 can be 30–60%
/// off another's. On a quiet machine 10–15 catches much smaller regressions.
let timeTolerance = ProcessInfo.processInfo.environment["PERCH_BENCH_TOLERANCE"].flatMap(Double.init) ?? 40.0

func rate(_ name: String) -> BenchmarkMetric { .custom(name, polarity: .prefersLarger, useScalingFactor: false) }
func cost(_ name: String) -> BenchmarkMetric { .custom(name, polarity: .prefersSmaller, useScalingFactor: false) }

/// A configuration whose every metric has a tolerance (metrics without one are compared
/// exactly, which no timing survives).
func configuration(_ metrics: [BenchmarkMetric], maxIterations: Int = 20, mallocBudget: Int? = nil) -> Benchmark.Configuration {
    var thresholds: [BenchmarkMetric: BenchmarkThresholds] = [:]
    for metric in metrics {
        switch metric {
        case .mallocCountTotal:
            // Decoding allocates nothing per record: a regression shows as one malloc per record.
            thresholds[metric] = BenchmarkThresholds(absolute: [.p90: mallocBudget ?? 1000])
        case .peakMemoryResident:
            thresholds[metric] = BenchmarkThresholds(relative: [.p90: 20])
        default:
            thresholds[metric] = BenchmarkThresholds(relative: [.p90: timeTolerance])
        }
    }
    return .init(metrics: metrics, warmupIterations: 1, maxDuration: .seconds(10),
                 maxIterations: maxIterations, thresholds: thresholds)
}

/// Runs `body` once, reports `count / elapsed` as `metric`.
@inline(__always)
func measureRate(_ benchmark: Benchmark, _ metric: BenchmarkMetric, count: Int, _ body: () throws -> Void) rethrows {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    benchmark.measurement(metric, Int(Double(count) / max(seconds, 1e-9)))
}

/// Non-Sendable setup state handed to the measured closure (one benchmark runs on one thread).
typealias UnwindState = State<(UnwinderBox, CaptureMaps, [SampleRecord], UInt64, PerfDataFile)>

/// The unwinder, kept across iterations so its caches stay warm, as over a whole report.
final class UnwinderBox {
    var unwinder = Unwinder()
}

final class State<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

let million = 1_000_000
let symbolizeCount = 20_000

let benchmarks: @Sendable () -> Void = {
    // MARK: Records

    Benchmark("Decode-records-10x100k-fp",
              configuration: configuration([.wallClock, rate("records/s"), .mallocCountTotal], maxIterations: 30)) { benchmark, buffer in
        let decoder = RecordDecoder(events: Workload.events)
        measureRate(benchmark, rate("records/s"), count: 10 * 100_000) {
            for _ in 0..<10 { buffer.value.withUnsafeBytes { raw in
                var offset = 0, frames = 0
                while offset < raw.count {
                    let size = Int(raw.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
                    if case .sample(let sample)? = try? decoder.decode(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + size])) {
                        frames &+= sample.callchain.count
                    }
                    offset += size
                }
                blackHole(frames)
            } }
        }
    } setup: {
        State(Workload.buffer(count: 100_000))
    }

    Benchmark("Read-perf.data-1M-fp",
              configuration: configuration([.wallClock, rate("records/s"), .peakMemoryResident], maxIterations: 10)) { benchmark, path in
        measureRate(benchmark, rate("records/s"), count: million + 1) {
            let file = try! PerfDataFile(path: path.value)
            let decoder = RecordDecoder(events: file.events)
            var samples = 0
            try! file.forEachRecord { record, _ in
                if case .sample? = try? decoder.decode(record) { samples += 1 }
            }
            precondition(samples == million)
        }
    } setup: {
        State(try Workload.file(count: million))
    }

    // MARK: Aggregation

    Benchmark("Aggregate-stack-trie-1M-fp",
              configuration: configuration([.wallClock, rate("samples/s"), .peakMemoryResident], maxIterations: 5)) { benchmark, path in
        measureRate(benchmark, rate("samples/s"), count: million) {
            let profile = try! ProfileBuilder(file: PerfDataFile(path: path.value), symbolizer: ELFSymbolizer()).build()
            precondition(profile.summary.sampleCount == UInt64(million))
            blackHole(profile)
        }
    } setup: {
        State(try Workload.file(count: million))
    }

    // MARK: Symbolization

    for (label, path) in [("libpython3.11", Inputs.libpython), ("perch-Swift", Inputs.swiftBinary)] {
        Benchmark("Symbolize-\(label)-cold-20k-inlines",
                  configuration: configuration([.wallClock, rate("addresses/s"), .peakMemoryResident], maxIterations: 10)) { benchmark, addresses in
            measureRate(benchmark, rate("addresses/s"), count: addresses.value.count) {
                let symbolizer = DWARFSymbolizer()
                var frames = 0
                for address in addresses.value { frames &+= symbolizer.symbolize(path: path, virtualAddress: address).count }
                precondition(frames >= addresses.value.count / 2)
            }
        } setup: {
            State(try Workload.textAddresses(path: path, count: symbolizeCount))
        }

        // The path `perch symbolize` and reports take: one batch, shared out over the CPUs.
        Benchmark("Symbolize-\(label)-cold-batch-20k-inlines",
                  configuration: configuration([.wallClock, rate("addresses/s"), .peakMemoryResident], maxIterations: 10)) { benchmark, addresses in
            measureRate(benchmark, rate("addresses/s"), count: addresses.value.count) {
                let frames = DWARFSymbolizer().symbolize(path: path, virtualAddresses: addresses.value)
                precondition(frames.filter { !$0.isEmpty }.count >= addresses.value.count / 2)
            }
        } setup: {
            State(try Workload.textAddresses(path: path, count: symbolizeCount))
        }

        Benchmark("Symbolize-\(label)-warm-10x20k-inlines",
                  configuration: configuration([.wallClock, rate("addresses/s")], maxIterations: 30)) { (benchmark: Benchmark, state: State<(DWARFSymbolizer, [UInt64])>) in
            let (symbolizer, addresses) = state.value
            measureRate(benchmark, rate("addresses/s"), count: 10 * addresses.count) {
                var frames = 0
                for _ in 0..<10 {
                    for address in addresses { frames &+= symbolizer.symbolize(path: path, virtualAddress: address).count }
                }
                blackHole(frames)
            }
        } setup: {
            let addresses = try Workload.textAddresses(path: path, count: symbolizeCount)
            let symbolizer = DWARFSymbolizer()
            for address in addresses { _ = symbolizer.symbolize(path: path, virtualAddress: address) }
            return State<(DWARFSymbolizer, [UInt64])>((symbolizer, addresses))
        }
    }

    // MARK: DWARF unwinding

    Benchmark("DWARF-unwind-CPython-capture-10x",
              configuration: configuration([.wallClock, cost("ns/sample"), rate("frames/sample")], maxIterations: 30)) { (benchmark: Benchmark, state: UnwindState) in
        let (box, maps, samples, mask, _) = state.value
        var unwinder = Unwinder()
        swap(&unwinder, &box.unwinder)  // moved out and back: no copy of its caches
        defer { swap(&unwinder, &box.unwinder) }
        var frames: [UInt64] = []
        frames.reserveCapacity(256)
        var total = 0
        let start = ContinuousClock.now
        for _ in 0..<10 { for sample in samples {
            frames.removeAll(keepingCapacity: true)
            _ = unwinder.unwind(registers: sample.userRegisters, registerMask: mask, stack: sample.userStack,
                                space: maps.space(pid: sample.pid), into: &frames)
            total += frames.count
        } }
        let elapsed = ContinuousClock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) * 1e-9
        benchmark.measurement(cost("ns/sample"), Int(nanoseconds / Double(max(10 * samples.count, 1))))
        benchmark.measurement(rate("frames/sample"), total / max(10 * samples.count, 1))
    } setup: {
        let file = try PerfDataFile(path: try DWARFCapture.file())
        let maps = try CaptureMaps(file: file)
        let samples = try userStackSamples(in: file)
        guard !samples.isEmpty else { throw BenchmarkSetupError("the DWARF capture has no user register samples") }
        // The file keeps the samples' bytes mapped; it rides along in the state.
        return UnwindState((UnwinderBox(), maps, samples, file.events[0].attributes.sampleRegsUser, file))
    }

    Benchmark("Report-DWARF-capture-CPython",
              configuration: configuration([.wallClock, rate("samples/s"), .peakMemoryResident], maxIterations: 10)) { benchmark, path in
        let file = try! PerfDataFile(path: path.value)
        var count = 0
        try! file.forEachRecord { record, _ in if RecordDecoder.type(of: record) == RecordType.sample.rawValue { count += 1 } }
        measureRate(benchmark, rate("samples/s"), count: count) {
            blackHole(try! ProfileBuilder(file: file, symbolizer: DWARFSymbolizer()).build())
        }
    } setup: {
        State(try DWARFCapture.file())
    }

    // MARK: Output

    Benchmark("Folded-stacks-1M-samples",
              configuration: configuration([.wallClock, .peakMemoryResident], maxIterations: 10)) { benchmark, profile in
        blackHole(FoldedWriter.bytes(profile.value, options: FoldedOptions()))
    } setup: {
        State(try ProfileBuilder(file: PerfDataFile(path: try Workload.file(count: million)), symbolizer: ELFSymbolizer()).build())
    }

    Benchmark("SVG-flamegraph-1M-samples",
              configuration: configuration([.wallClock, .peakMemoryResident], maxIterations: 10)) { benchmark, profile in
        let graph = FlameGraph(profile: profile.value)
        blackHole(FlameGraphSVG.bytes(graph, options: FlameGraphOptions()))
    } setup: {
        State(try ProfileBuilder(file: PerfDataFile(path: try Workload.file(count: million)), symbolizer: ELFSymbolizer()).build())
    }

    Benchmark("Text-report-1M-samples",
              configuration: configuration([.wallClock], maxIterations: 10)) { benchmark, profile in
        blackHole(TextReport.render(profile.value, options: ReportOptions()))
    } setup: {
        State(try ProfileBuilder(file: PerfDataFile(path: try Workload.file(count: million)), symbolizer: ELFSymbolizer()).build())
    }
}
