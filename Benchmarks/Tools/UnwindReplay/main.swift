import Foundation
import CaptureReplay
import PerfABI
import PerfRecords
import Unwinding

// Replays the user stacks of a `--call-graph dwarf` recording through `Unwinder`, for profiling
// the unwinder (callgrind: instruction counts that load on the machine does not change) and for
// checking that a change keeps its results:
//
//   UnwindReplay FILE [ITERATIONS] [--dump OUT]
//
// Unwinds every sample with 64-bit user registers once untimed (loading the CFI), then ITERATIONS
// times (default 1) timed, on one warm `Unwinder`, like the `DWARF-unwind-CPython-capture-10x` benchmark. `--dump` writes, for each
// sample of the first pass, the stop reason, the frames, and `leafCaller`'s answer.

var arguments = Array(CommandLine.arguments.dropFirst())
var dumpPath: String?
if let index = arguments.firstIndex(of: "--dump"), index + 1 < arguments.count {
    dumpPath = arguments[index + 1]
    arguments.removeSubrange(index...index + 1)
}
guard let path = arguments.first, let iterations = arguments.count > 1 ? Int(arguments[1]) : 1, iterations >= 1 else {
    FileHandle.standardError.write("usage: UnwindReplay FILE [ITERATIONS] [--dump OUT]\n".data(using: .utf8)!)
    exit(64)
}

let file = try PerfDataFile(path: path)
let maps = try CaptureMaps(file: file)
let samples = try userStackSamples(in: file)
let mask = file.events[0].attributes.sampleRegsUser
let spaces = samples.map { maps.space(pid: $0.pid) }

var unwinder = Unwinder()
var frames: [UInt64] = []
frames.reserveCapacity(256)
var dump = ""
var total = 0
// One untimed pass first, as the benchmark's warm-up: it loads each module's CFI, which the
// timed passes then measure without.
for (index, sample) in samples.enumerated() {
    frames.removeAll(keepingCapacity: true)
    _ = unwinder.unwind(registers: sample.userRegisters, registerMask: mask, stack: sample.userStack,
                        space: spaces[index], into: &frames)
}
let start = ContinuousClock.now
for iteration in 0..<iterations {
    for (index, sample) in samples.enumerated() {
        frames.removeAll(keepingCapacity: true)
        let stop = unwinder.unwind(registers: sample.userRegisters, registerMask: mask, stack: sample.userStack,
                                   space: spaces[index], into: &frames)
        total += frames.count
        if iteration == 0, dumpPath != nil {
            let leaf = frames.first.flatMap {
                unwinder.leafCaller(registers: sample.userRegisters, registerMask: mask, stack: sample.userStack,
                                    space: spaces[index], chainPC: $0, chainCaller: nil)
            }
            dump += "\(sample.pid) \(stop) leaf=\(leaf.map { String($0, radix: 16) } ?? "-"):"
            for frame in frames { dump += " " + String(frame, radix: 16) }
            dump += "\n"
        }
    }
}
let elapsed = ContinuousClock.now - start
if let dumpPath { try dump.write(toFile: dumpPath, atomically: true, encoding: .utf8) }
let count = max(samples.count * iterations, 1)
let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
print("\(samples.count) samples x \(iterations): \(Double(total) / Double(count)) frames/sample, \(Int((nanoseconds / Double(count)).rounded())) ns per sample")
print(unwinder.statistics)
