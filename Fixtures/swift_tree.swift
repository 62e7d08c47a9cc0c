// A Swift call tree for DWARF unwinding: built with `swiftc -O` and nothing else, so no frame
// pointers. Driver.run → Pipeline.stageOne / stageTwo → hotLoop, and a Swift → libc → Swift
// path through qsort's comparator.
// Usage: swift_tree [ROUNDS]
#if canImport(Glibc)
import Glibc
#endif

var sink: UInt64 = 0

@inline(never) func hotLoop(_ count: Int) -> UInt64 {
    var x = sink
    for _ in 0..<count { x = x &* 2862933555777941757 &+ 3037000493 }
    return x
}

struct Pipeline {
    var scale: Int

    @inline(never) func stageOne() -> UInt64 { hotLoop(60_000_000 * scale) &* 3 &+ 1 }
    @inline(never) func stageTwo() -> UInt64 { hotLoop(20_000_000 * scale) &* 5 &+ 1 }
}

@inline(never) func compareSpinning(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?) -> Int32 {
    sink = hotLoop(100_000)
    let left = a!.load(as: Int32.self), right = b!.load(as: Int32.self)
    return left < right ? -1 : (left > right ? 1 : 0)
}

enum Driver {
    @inline(never) static func sortThroughLibc() {
        var values: [Int32] = (0..<64).map { Int32(($0 * 7919) % 64) }
        values.withUnsafeMutableBufferPointer { buffer in
            qsort(buffer.baseAddress!, buffer.count, MemoryLayout<Int32>.stride) { compareSpinning($0, $1) }
        }
    }

    @inline(never) static func run(rounds: Int) {
        let pipeline = Pipeline(scale: 2)
        for _ in 0..<rounds {
            sink = pipeline.stageOne() &+ pipeline.stageTwo()
            sortThroughLibc()
        }
    }
}

let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20 : 20
Driver.run(rounds: rounds)
print(sink & 1)
