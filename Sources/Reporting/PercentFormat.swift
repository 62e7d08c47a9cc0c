/// Formats percentages the way perf does (`%.2f%%`) and colours them for terminals.
enum PercentFormat {
    /// `50.00%` for 50; rounding half away from zero at the second decimal.
    static func string(_ percent: Double) -> String {
        // `Int(x + 0.5)` rounds non-negative values without needing libm's `round`.
        let scaled = max(0, percent) * 100 + 0.5
        let hundredths = scaled < 1e15 ? Int(scaled) : 100_000_000_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    /// `text` right-aligned to `width`, coloured by `percent` when `colour` is on.
    static func padded(_ percent: Double, width: Int, colour: Bool) -> String {
        let text = string(percent)
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return padding + TerminalColour.percent(text, value: percent, enabled: colour)
    }
}

/// ANSI colouring of percentages with perf's thresholds.
public enum TerminalColour {
    /// Red, used for percentages of at least 5%.
    public static let red = "\u{1B}[31m"
    /// Green, used for percentages of at least 0.5%.
    public static let green = "\u{1B}[32m"
    /// Resets all attributes.
    public static let reset = "\u{1B}[0m"

    /// `text` wrapped in red when `value >= 5`, green when `value >= 0.5`, else unchanged;
    /// always unchanged when `enabled` is false.
    public static func percent(_ text: String, value: Double, enabled: Bool) -> String {
        guard enabled else { return text }
        if value >= 5 { return red + text + reset }
        if value >= 0.5 { return green + text + reset }
        return text
    }
}
