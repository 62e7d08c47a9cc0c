extension FlameGraphSVG {
    /// Three stable values in [0, 1) from the name (FNV-1a).
    static func hash(_ name: String) -> (Double, Double, Double) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        h ^= h >> 29
        h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 32
        return (Double(h & 0xffff) / 65536, Double((h >> 16) & 0xffff) / 65536, Double((h >> 32) & 0xffff) / 65536)
    }

    /// The fill of a frame: a function of the name (and kind) only.
    public static func colour(name: String, kind: FlameFrameKind, palette: FlamePalette) -> (Int, Int, Int) {
        let (v1, v2, v3) = hash(name)
        func c(_ base: Double, _ range: Double, _ v: Double) -> Int { Int(base + range * v) }
        switch palette {
        case .hot: return (c(205, 50, v3), c(0, 230, v1), c(0, 55, v2))
        case .mem: return (0, c(190, 50, v2), c(0, 210, v1))
        case .io: return (c(80, 60, v1), c(80, 60, v1), c(190, 55, v2))
        case .kind:
            switch kind {
            case .kernel: return (c(225, 30, v1), c(135, 45, v2), c(0, 50, v3))
            case .native: return (c(205, 50, v1), c(40, 80, v2), c(30, 40, v3))
            case .swift: return (c(150, 50, v1), c(90, 50, v2), c(200, 55, v3))
            case .cpp: return (c(200, 50, v1), c(190, 50, v2), c(30, 60, v3))
            case .jit: return (c(50, 60, v1), c(180, 60, v2), c(50, 60, v3))
            case .inlined: return (c(40, 60, v1), c(190, 50, v2), c(190, 50, v2))
            case .unknown: return (c(160, 40, v1), c(160, 40, v1), c(160, 40, v1))
            }
        }
    }

    /// Red where `delta` > 0 (grew), blue where it shrank, white-ish when unchanged.
    static func diffColour(delta: Double, maxDelta: Double) -> (Int, Int, Int) {
        guard maxDelta > 0, delta != 0 else { return (250, 250, 250) }
        let fade = Int(210 * (1 - min(1, abs(delta) / maxDelta)))
        return delta > 0 ? (255, fade, fade) : (fade, fade, 255)
    }
}
