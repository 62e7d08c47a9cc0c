import ProfileModel

/// How often each (thread, stack node) pair was seen and the periods it carried: the profile's
/// unique stacks before symbolization.
struct StackCounts {
    /// One row per pair, in order of first sight.
    private(set) var keys: [(thread: Int32, node: Int32)] = []
    private(set) var samples: [UInt64] = []
    private(set) var periods: [UInt64] = []
    private var rows = WordPairTable(capacity: 4096)

    /// Adds one sample (or interval) of `period` to the pair.
    @inline(__always)
    mutating func add(thread: Int32, node: Int32, period: UInt64) {
        let key = UInt64(UInt32(bitPattern: thread)) << 32 | UInt64(UInt32(bitPattern: node))
        if let row = rows.find(key, 0) {
            samples[Int(row)] += 1
            periods[Int(row)] = periods[Int(row)].addingSaturated(period)
        } else {
            rows.insert(key, 0, value: Int32(keys.count))
            keys.append((thread, node))
            samples.append(1)
            periods.append(period)
        }
    }

    /// Multiplies every count and period by `numerator / denominator`, rounding down (a live
    /// view's decay); pairs that reach zero stay, counting nothing, until ``removeAll()``.
    mutating func scale(by numerator: UInt64, over denominator: UInt64) {
        guard denominator > 0 else { return }
        for row in samples.indices {
            samples[row] = samples[row].multipliedReportingOverflow(by: numerator).partialValue / denominator
            periods[row] = periods[row] / denominator * numerator + periods[row] % denominator * numerator / denominator
        }
    }

    /// Forgets every pair (a live view's zeroing).
    mutating func removeAll() {
        self = StackCounts()
    }
}
