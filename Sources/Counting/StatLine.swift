/// Whose counts a line shows when they are not summed: one CPU (`-A`) or one thread (`--per-thread`).
public enum StatAggregate: Sendable, Hashable {
    case cpu(Int32)
    case thread(comm: String, tid: Int32)
}

/// A number derived from a count, printed after `#`: `0.998 CPUs utilized`, `1.234 K/sec`.
public struct StatMetric: Sendable, Equatable {
    public var value: Double
    public var unit: String

    public init(value: Double, unit: String) {
        self.value = value
        self.unit = unit
    }

    /// perf's rate of an event per second of a clock event's time, with K/M/G prefixes.
    public static func rate(count: Double, clockNanoseconds: Double) -> StatMetric {
        var ratio = clockNanoseconds > 0 ? 1_000_000_000 * count / clockNanoseconds : 0
        var prefix = ""
        if ratio >= 1e9 { ratio /= 1e9; prefix = "G" } else if ratio >= 1e6 { ratio /= 1e6; prefix = "M" } else if ratio >= 1e3 { ratio /= 1e3; prefix = "K" }
        return StatMetric(value: ratio, unit: prefix + "/sec")
    }
}

/// One line of `perch stat`'s output, in every format: the columns of perf stat's CSV.
public struct StatLine: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        /// The (scaled) count, in the event's unit (milliseconds for the clocks).
        case counted(Double)
        /// The event was open but never ran.
        case notCounted
        /// The machine lacks it, or this user may not count it.
        case notSupported
    }

    /// Nanoseconds since the start, for `-I` lines.
    public var interval: UInt64?
    public var aggregate: StatAggregate?
    public var value: Value
    public var unit: String
    public var event: String
    /// `-r N`: the relative standard deviation of the mean, in percent.
    public var variancePercent: Double?
    /// Nanoseconds the event ran.
    public var runNanoseconds: UInt64
    public var runningPercent: Double
    public var metric: StatMetric?
}

/// Collects the readings of one or more runs (or one interval) and turns them into lines: each
/// event's mean over the runs, its spread, its running share and its metric.
public struct StatAccumulator {
    public let events: [CountedEvent]
    public private(set) var availability: [CountedEvent.Availability]
    private var aggregates: [StatAggregate?] = []
    private var values: [[RunningStatistics]] = []      // [aggregate][event], nanoseconds for clocks
    private var running: [[RunningStatistics]] = []
    private var enabled: [[RunningStatistics]] = []
    public private(set) var elapsed = RunningStatistics()  // nanoseconds

    public init(events: [CountedEvent], availability: [CountedEvent.Availability]) {
        self.events = events
        self.availability = availability
    }

    /// Adds one run (or interval): per aggregate, per event, the reading (nil: not counted there).
    public mutating func add(_ readings: [(aggregate: StatAggregate?, readings: [CounterReading?])],
                             availability: [CountedEvent.Availability], elapsedNanoseconds: Double) {
        self.availability = availability
        elapsed.add(elapsedNanoseconds)
        for (aggregate, eventReadings) in readings {
            let index: Int
            if let found = aggregates.firstIndex(where: { $0 == aggregate }) {
                index = found
            } else {
                aggregates.append(aggregate)
                let empty = [RunningStatistics](repeating: RunningStatistics(), count: events.count)
                values.append(empty); running.append(empty); enabled.append(empty)
                index = aggregates.count - 1
            }
            for (event, reading) in eventReadings.enumerated() where event < events.count {
                guard let reading, let scaled = reading.scaled else { continue }
                values[index][event].add(scaled)
                running[index][event].add(Double(reading.timeRunning))
                enabled[index][event].add(Double(reading.timeEnabled))
            }
        }
    }

    /// The lines, event by event (and aggregate by aggregate within an event), as perf orders them.
    public func lines(interval: UInt64? = nil, showVariance: Bool) -> [StatLine] {
        var lines: [StatLine] = []
        for (event, counted) in events.enumerated() {
            for (index, aggregate) in aggregates.enumerated() {
                var line = StatLine(interval: interval, aggregate: aggregate, value: .notCounted, unit: counted.unit,
                                    event: counted.name, variancePercent: nil, runNanoseconds: 0, runningPercent: 100, metric: nil)
                let statistics = values[index][event]
                if !availability[event].isCountable {
                    line.value = .notSupported
                    if showVariance { line.variancePercent = 0 }
                } else if statistics.count == 0 {
                    if showVariance { line.variancePercent = 0 }
                } else {
                    let mean = statistics.mean
                    line.value = .counted(counted.isClock ? mean / 1_000_000 : mean)
                    if showVariance { line.variancePercent = statistics.relativeSpreadPercent }
                    let run = running[index][event].mean, enable = enabled[index][event].mean
                    line.runNanoseconds = UInt64(max(0, min(run.rounded(), Double(UInt64.max / 2))))
                    line.runningPercent = enable > 0 ? min(100, 100 * run / enable) : 100
                    line.metric = metric(event: event, aggregate: index, mean: mean)
                }
                lines.append(line)
            }
        }
        return lines
    }

    /// CPUs utilized for a clock event (its time over the elapsed time), else the rate per
    /// second of the first counted clock event's time; nil without a clock event.
    private func metric(event: Int, aggregate: Int, mean: Double) -> StatMetric? {
        if events[event].isClock {
            return StatMetric(value: elapsed.mean > 0 ? mean / elapsed.mean : 0, unit: "CPUs utilized")
        }
        guard let clock = events.indices.first(where: { events[$0].isClock && values[aggregate][$0].count > 0 }) else {
            return nil
        }
        return .rate(count: mean, clockNanoseconds: values[aggregate][clock].mean)
    }
}
