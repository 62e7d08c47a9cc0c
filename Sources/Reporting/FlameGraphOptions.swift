/// Colour schemes for flame graph frames.
public enum FlamePalette: String, Sendable, CaseIterable {
    /// Reds and yellows (flamegraph.pl's default).
    case hot
    /// Greens and blues, for memory profiles.
    case mem
    /// Blues, for I/O profiles.
    case io
    /// By frame kind: kernel orange, native red, Swift purple, C++ yellow, JIT green, inlined aqua,
    /// unknown grey.
    case kind
}

/// Options for ``FlameGraphSVG``, named after flamegraph.pl's.
public struct FlameGraphOptions: Sendable, Equatable {
    /// nil: the graph's own (``FlameGraph/defaultTitle``), else "Flame Graph" or "Icicle Graph".
    public var title: String?
    public var subtitle: String?
    /// Image width in pixels.
    public var width: Double
    /// Frames narrower than this (pixels) are left out, with everything above them.
    public var minWidth: Double
    public var palette: FlamePalette
    /// Icicle graph: the root at the top, growing down.
    public var inverted: Bool
    /// Frame height in pixels.
    public var frameHeight: Double
    public var fontSize: Double
    /// What the counts are, for tooltips; nil: the graph's unit (``FlameGraph/countName``).
    public var countName: String?

    public init(
        title: String? = nil, subtitle: String? = nil, width: Double = 1200, minWidth: Double = 0.1,
        palette: FlamePalette = .hot, inverted: Bool = false, frameHeight: Double = 16, fontSize: Double = 12,
        countName: String? = nil
    ) {
        self.title = title
        self.subtitle = subtitle
        self.width = width
        self.minWidth = minWidth
        self.palette = palette
        self.inverted = inverted
        self.frameHeight = frameHeight
        self.fontSize = fontSize
        self.countName = countName
    }
}
