/// One counter's raw numbers as the kernel reports them: the count, and how long the event was
/// enabled and actually running (on a PMU, or for a per-task event bound to a CPU, only part of
/// the enabled time). Sums and differences saturate instead of trapping: these numbers come from
/// the kernel and are not trusted to be monotonic.
public struct CounterReading: Sendable, Equatable {
    public var value: UInt64
    /// Nanoseconds the event was enabled.
    public var timeEnabled: UInt64
    /// Nanoseconds the event was counting.
    public var timeRunning: UInt64

    public init(value: UInt64 = 0, timeEnabled: UInt64 = 0, timeRunning: UInt64 = 0) {
        self.value = value
        self.timeEnabled = timeEnabled
        self.timeRunning = timeRunning
    }

    /// Whether the event counted at all (perf prints `<not counted>` otherwise).
    public var counted: Bool { timeRunning > 0 && timeEnabled > 0 }

    /// The count extrapolated to the whole enabled time, as perf stat scales multiplexed events:
    /// `value × enabled / running`. Nil when it never ran.
    public var scaled: Double? {
        guard counted else { return nil }
        if timeRunning >= timeEnabled { return Double(value) }
        return Double(value) * Double(timeEnabled) / Double(timeRunning)
    }

    /// The share of the enabled time the event was running, in percent; 100 when it was never
    /// enabled (perf's convention).
    public var runningPercent: Double {
        guard timeEnabled > 0 else { return 100 }
        return min(100, 100 * Double(timeRunning) / Double(timeEnabled))
    }

    /// Whether the count was extrapolated (the event did not run all the time it was enabled).
    public var isScaled: Bool { counted && timeRunning < timeEnabled }

    /// Both readings added (several tasks or CPUs counted as one).
    public static func + (lhs: CounterReading, rhs: CounterReading) -> CounterReading {
        CounterReading(value: lhs.value.addingSaturating(rhs.value),
                       timeEnabled: lhs.timeEnabled.addingSaturating(rhs.timeEnabled),
                       timeRunning: lhs.timeRunning.addingSaturating(rhs.timeRunning))
    }

    /// What happened between an earlier reading and this one (an interval); zero where a number
    /// went backwards.
    public func since(_ earlier: CounterReading) -> CounterReading {
        CounterReading(value: value.subtractingSaturating(earlier.value),
                       timeEnabled: timeEnabled.subtractingSaturating(earlier.timeEnabled),
                       timeRunning: timeRunning.subtractingSaturating(earlier.timeRunning))
    }
}

extension UInt64 {
    func addingSaturating(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    func subtractingSaturating(_ other: UInt64) -> UInt64 {
        self >= other ? self - other : 0
    }
}
