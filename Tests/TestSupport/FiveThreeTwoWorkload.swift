import ProfileModel
#if canImport(Glibc)
import Glibc
#endif

/// A 5:3:2 split of identical work for in-process profiler tests: `fiveUnits`, `threeUnits` and
/// `twoUnits` each call `workUnit` that many times, so their shares of the samples in which
/// they appear are 50%, 30% and 20%.
public enum FiveThreeTwo {
    /// Runs the split on `threads` threads (the calling one and `threads - 1` started here) until
    /// each has used `seconds` of CPU time (so a loaded machine gives as many samples as an idle
    /// one), or `seconds` × 30 of wall time have passed.
    public static func run(seconds: Double, threads: Int = 2) {
        var workers: [pthread_t] = []
        for _ in 1..<max(1, threads) {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(SecondsBox(seconds))
            let created = pthread_create(&thread, nil, { context in
                let seconds = Unmanaged<SecondsBox>.fromOpaque(context!).takeRetainedValue().seconds
                FiveThreeTwo.loop(seconds: seconds)
                return nil
            }, box.toOpaque())
            if created == 0 { workers.append(thread) } else { box.release() }
        }
        loop(seconds: seconds)
        for worker in workers { pthread_join(worker, nil) }
    }

    /// The shares (in percent) of the samples whose stacks hold each function, and how many
    /// samples held any of them.
    public static func shares(in profile: Profile) -> (five: Double, three: Double, two: Double, samples: UInt64) {
        var counts = [UInt64](repeating: 0, count: 3)
        let names = ["fiveUnits", "threeUnits", "twoUnits"]
        let kinds: [Int?] = profile.frames.map { frame in names.firstIndex { frame.symbol.contains($0) } }
        for stack in profile.stacks {
            guard let kind = stack.frames.lazy.compactMap({ Int($0) < kinds.count ? kinds[Int($0)] : nil }).first else { continue }
            counts[kind] += stack.samples
        }
        let total = counts.reduce(0, +)
        guard total > 0 else { return (0, 0, 0, 0) }
        let percent = counts.map { Double($0) * 100 / Double(total) }
        return (percent[0], percent[1], percent[2], total)
    }

    static func loop(seconds: Double) {
        let cpuEnd = now(CLOCK_THREAD_CPUTIME_ID) + seconds
        let wallEnd = now(CLOCK_MONOTONIC) + seconds * 30
        var order = UInt64(bitPattern: Int64(now(CLOCK_MONOTONIC) * 1e9))
        while now(CLOCK_THREAD_CPUTIME_ID) < cpuEnd, now(CLOCK_MONOTONIC) < wallEnd {
            for _ in 0..<20 {
                order = order &* 6364136223846793005 &+ 1442695040888963407
                switch (order >> 33) % 3 {
                case 0: fiveUnits(); threeUnits(); twoUnits()
                case 1: threeUnits(); twoUnits(); fiveUnits()
                default: twoUnits(); fiveUnits(); threeUnits()
                }
                spacer(iterations: (order >> 40) % (5 * workUnitIterations))
            }
        }
    }

    private static func now(_ clock: clockid_t) -> Double {
        var time = timespec()
        clock_gettime(clock, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private final class SecondsBox {
        let seconds: Double
        init(_ seconds: Double) { self.seconds = seconds }
    }
}

nonisolated(unsafe) private var sink: UInt64 = 0
private let workUnitIterations: UInt64 = 20_000

/// Work of a random length (0 to 5 units) between rounds, in none of the three functions: a
/// perfectly periodic loop would alias with a sampler whose timers fire on the kernel's tick
/// (the same few phases of the round sampled over and over); real programs are not periodic.
@inline(never) func spacer(iterations: UInt64) {
    var value = sink | 1
    var index: UInt64 = 0
    while index < iterations {
        value = value &* 6364136223846793005 &+ index
        index &+= 1
    }
    sink = value
}

// Each ends with a write after its last call, so an optimized build cannot make that call a
// tail call (the function's frame would be gone during its last unit: 5:3:2 would read 4:2:1).
@inline(never) public func fiveUnits() { for _ in 0..<5 { workUnit() }; sink &+= 1 }
@inline(never) public func threeUnits() { for _ in 0..<3 { workUnit() }; sink &+= 1 }
@inline(never) public func twoUnits() { for _ in 0..<2 { workUnit() }; sink &+= 1 }

/// About 20 µs of arithmetic the optimizer cannot remove, with no generic code (a debug build
/// would spend it in the runtime's metadata lookups).
@inline(never) public func workUnit() {
    var value = sink | 1
    var index: UInt64 = 0
    while index < workUnitIterations {
        value = value &* 6364136223846793005 &+ index
        index &+= 1
    }
    sink = value
}
