// Profiles a 5:3:2 split inside itself and prints what came out, for the tests that run it in
// conditions the test process cannot be put in (a seccomp filter denying perf_event_open).
//   InProcessProfilerProbe [automatic|perf|signals] [CPU-SECONDS-PER-THREAD] [SVG-PATH] [THREADS]
import InProcessProfiling
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, status: Int32) -> Never {
    let line = Array("InProcessProfilerProbe: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

/// CPU time the whole process has used, in seconds.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments.dropFirst()
var options = Profiler.Options()
switch arguments.first ?? "automatic" {
case "automatic": options.mechanism = .automatic
case "perf": options.mechanism = .perfEvents
case "signals": options.mechanism = .signals
case let other:
    fail("unknown mechanism '\(other)'", status: 64)
}
let seconds = arguments.dropFirst().first.flatMap(Double.init) ?? 3
do {
    let threads = arguments.dropFirst(3).first.flatMap { Int($0) } ?? 4
    let cpuBefore = processCPUSeconds()
    let result = try Profiler.profile(options: options) { FiveThreeTwo.run(seconds: seconds, threads: threads) }
    let shares = FiveThreeTwo.shares(in: result.profile)
    print("mechanism=\(result.mechanism.rawValue) samples=\(shares.samples) five=\(shares.five) three=\(shares.three) two=\(shares.two) cpu=\(processCPUSeconds() - cpuBefore) total=\(result.profile.totalSamples)")
    for note in result.notes { print("note: \(note.text)") }
    if let svg = arguments.dropFirst(2).first, !svg.isEmpty { try result.write(.flameGraph, to: svg) }
} catch {
    fail("\(error)", status: 1)
}
