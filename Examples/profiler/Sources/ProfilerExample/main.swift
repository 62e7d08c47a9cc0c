// Profiles itself while three functions do 5, 3 and 2 units of the same work, prints each
// function's share of the samples and which mechanism took them, and writes a flame graph.
//   ProfilerExample [automatic|perf|signals] [OUTPUT.svg] [SECONDS]
import InProcessProfiling
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var sink: UInt64 = 1

/// The unit of work: arithmetic the optimizer cannot remove.
@inline(never) func workUnit() {
    var value = sink | 1
    var index: UInt64 = 0
    while index < 20_000 {
        value = value &* 6364136223846793005 &+ index
        index &+= 1
    }
    sink = value
}

/// Work of `iterations` steps outside the three functions.
@inline(never) func spacer(_ iterations: UInt64) {
    var value = sink | 1
    var index: UInt64 = 0
    while index < iterations {
        value = value &* 6364136223846793005 &+ index
        index &+= 1
    }
    sink = value
}

// Each ends with a write after its last call, so an optimized build cannot make that call a
// tail call (which would leave the function's frame before its last unit and hide that unit
// from it in every profiler: 5:3:2 would show as 4:2:1).
@inline(never) func fiveUnits() { for _ in 0..<5 { workUnit() }; sink &+= 1 }
@inline(never) func threeUnits() { for _ in 0..<3 { workUnit() }; sink &+= 1 }
@inline(never) func twoUnits() { for _ in 0..<2 { workUnit() }; sink &+= 1 }

func fail(_ message: String, status: Int32) -> Never {
    let line = Array("ProfilerExample: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

var options = Profiler.Options()
let arguments = CommandLine.arguments.dropFirst()
switch arguments.first ?? "automatic" {
case "automatic": options.mechanism = .automatic
case "perf": options.mechanism = .perfEvents
case "signals": options.mechanism = .signals
case let other: fail("unknown mechanism '\(other)' (automatic, perf or signals)", status: 64)
}
let output = arguments.dropFirst().first ?? "profile.svg"
guard let seconds = Int(arguments.dropFirst(2).first ?? "5"), seconds > 0, seconds <= 3600 else {
    fail("SECONDS must be a whole number from 1 to 3600", status: 64)
}

do {
    // The three functions in turn on this thread, over and over for SECONDS.
    // A random amount of other work between rounds: a perfectly periodic loop would alias with
    // the in-process sampler, whose CPU-time timers fire on the kernel's tick (the same few
    // phases of the round sampled again and again). Real programs are not that regular.
    var random = SystemRandomNumberGenerator()
    let result = try Profiler.profile(for: .seconds(seconds), options: options) {
        fiveUnits()
        threeUnits()
        twoUnits()
        spacer(random.next(upperBound: 100_000))
    }
    var counts: [String: UInt64] = [:]
    let profile = result.profile
    for stack in profile.stacks {
        let names = stack.frames.map { profile.frameOrUnknown($0).symbol }
        if let name = ["fiveUnits", "threeUnits", "twoUnits"].first(where: { wanted in names.contains { $0.contains(wanted) } }) {
            counts[name, default: 0] += stack.samples
        }
    }
    let total = max(1, counts.values.reduce(0, +))
    print("mechanism: \(result.mechanism.rawValue), \(total) samples in the three functions")
    for name in ["fiveUnits", "threeUnits", "twoUnits"] {
        let share = Double(counts[name, default: 0]) * 100 / Double(total)
        print("  \(name): \((share * 10).rounded() / 10)%")
    }
    for note in result.notes { print("note: \(note.text)") }
    try result.write(.flameGraph, to: output)
    print("wrote \(output)")
} catch {
    fail("\(error)", status: 1)
}
