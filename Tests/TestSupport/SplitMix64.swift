import Foundation

/// SplitMix64: a small deterministic generator, so a test's random cases are the same on every
/// run and a failing one can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for a test that draws new cases on every run: seeded from `PERCH_TEST_SEED`
    /// when set, else at random, and the seed is printed first, so that a failing run (a crash
    /// included, which reports nothing else) can be replayed with the seed it printed.
    public static func replayable(_ test: String) -> SplitMix64 {
        let given = ProcessInfo.processInfo.environment["PERCH_TEST_SEED"].flatMap { UInt64($0.replacingOccurrences(of: "0x", with: ""), radix: 16) }
        let seed = given ?? UInt64.random(in: 0...UInt64.max)
        print("\(test): seed 0x\(String(seed, radix: 16)) (replay with PERCH_TEST_SEED=\(String(seed, radix: 16)))")
        fflush(nil)  // before a crash can take the buffered line with it
        return SplitMix64(seed: seed)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<n` (`0` when `n` is not positive).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}
