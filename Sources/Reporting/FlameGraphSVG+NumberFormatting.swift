extension FlameGraphSVG {
    /// Two decimals without trailing zeros: `12.5`, `3`, `0.07`.
    static func fmt(_ v: Double) -> String {
        let scaled = (abs(v) * 100 + 0.5)
        guard scaled < 9e15 else { return "\(v)" }
        let hundredths = Int(scaled)
        var s = (v < 0 && hundredths > 0 ? "-" : "") + String(hundredths / 100)
        let frac = hundredths % 100
        if frac != 0 {
            s += frac % 10 == 0 ? ".\(frac / 10)" : (frac < 10 ? ".0\(frac)" : ".\(frac)")
        }
        return s
    }

    static func percentString(_ p: Double) -> String { PercentFormat.string(p) }

    /// `1,234,567`.
    static func groupedDecimal(_ v: UInt64) -> String {
        let digits = Array(String(v))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }
}
