/// Mean and spread of repeated measurements (`perf stat -r N`), by Welford's update so long runs
/// stay exact enough.
public struct RunningStatistics: Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var mean = 0.0
    private var squaredDeviations = 0.0

    public init() {}

    public init<S: Sequence>(_ values: S) where S.Element == Double {
        for value in values { add(value) }
    }

    public mutating func add(_ value: Double) {
        count += 1
        let delta = value - mean
        mean += delta / Double(count)
        squaredDeviations += delta * (value - mean)
    }

    /// The sample standard deviation (n - 1), 0 for fewer than two values.
    public var standardDeviation: Double {
        count < 2 ? 0 : (squaredDeviations / Double(count - 1)).squareRoot()
    }

    /// The standard deviation of the mean (`stddev / √n`), which perf stat prints as `+-`.
    public var standardDeviationOfMean: Double {
        count < 2 ? 0 : standardDeviation / Double(count).squareRoot()
    }

    /// perf's `+- x.xx%`: the standard deviation of the mean relative to the mean, in percent
    /// (0 when the mean is 0).
    public var relativeSpreadPercent: Double {
        mean == 0 ? 0 : 100 * standardDeviationOfMean / mean
    }
}
