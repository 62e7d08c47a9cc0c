/// What a profile's numbers measure: the one quantity every output draws and totals.
///
/// On-CPU profiles count samples (each sample also carries its event's period, which perf's text
/// report uses for percentages); off-CPU profiles measure nanoseconds blocked. Outputs take both
/// the number (``StackSample/value``) and its unit from here, so no format can draw samples where
/// another draws time.
public struct Metric: Hashable, Sendable {
    /// The unit of ``StackSample/value``.
    public enum Unit: String, Hashable, Sendable {
        /// A number of samples (one per record).
        case samples
        /// Nanoseconds.
        case nanoseconds
    }

    /// What is measured, e.g. `samples`, `off-cpu`, `on-cpu + off-cpu`.
    public var name: String
    public var unit: Unit

    public init(name: String, unit: Unit) {
        self.name = name
        self.unit = unit
    }

    /// Samples of the recorded event.
    public static let samples = Metric(name: "samples", unit: .samples)
    /// Nanoseconds off CPU, from each switch-out to the next switch-in of the thread.
    public static let offCPUTime = Metric(name: "off-cpu", unit: .nanoseconds)
    /// Nanoseconds on CPU (sample periods) and off CPU, under `[on-cpu]` and `[off-cpu]` roots.
    public static let onAndOffCPUTime = Metric(name: "on-cpu + off-cpu", unit: .nanoseconds)

    /// The unit as flame graphs and folded-stack tools name it (`samples`, `ns`).
    public var unitName: String {
        switch unit {
        case .samples: "samples"
        case .nanoseconds: "ns"
        }
    }

    /// The column heading for values in this metric (`Samples`, `Nanoseconds`).
    public var title: String {
        switch unit {
        case .samples: "Samples"
        case .nanoseconds: "Nanoseconds"
        }
    }

    /// Whether values are time.
    public var isTime: Bool { unit == .nanoseconds }
}
