import CElfutils

/// The sorted index of compile-unit address ranges, built once per image.
extension DWARFIndex {
    struct CURange {
        var low: UInt64
        var high: UInt64
        var unit: Int32
    }

    func buildUnitIndex() {
        var cu: OpaquePointer? = nil
        var next: OpaquePointer? = nil
        var version: Dwarf_Half = 0
        var unitType: UInt8 = 0
        var cudie = Dwarf_Die()
        // No `subdie`: asking for it makes libdw open each skeleton unit's split file, and
        // swiftc's skeletons name clang module caches (`.pcm`), thousands of opens per binary
        // for units that hold no code.
        while dwarf_get_units(dwarf, cu, &next, &version, &unitType, &cudie, nil) == 0 {
            cu = next
            let type = Int(unitType)
            guard type == DW_UT_compile || type == DW_UT_partial || type == DW_UT_skeleton
                    || (type == 0 && Int(dwarf_tag(&cudie)) == DW_TAG_compile_unit)
            else { continue }
            var die = cudie
            let unit = Int32(units.count)
            let any = Self.forEachRange(of: &die) { ranges.append(CURange(low: $0, high: $1, unit: unit)) }
            if any { units.append(Unit(die: cudie)) }
        }
        ranges.sort { $0.low != $1.low ? $0.low < $1.low : $0.high > $1.high }
    }

    func unit(containing address: UInt64) -> Unit? {
        unitIndex(containing: address).map { units[$0] }
    }

    func unitIndex(containing address: UInt64) -> Int? {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) >> 1
            if ranges[mid].low <= address { low = mid + 1 } else { high = mid }
        }
        // Ranges rarely overlap; look back a little in case an earlier, longer one covers it.
        var index = low - 1
        var steps = 0
        while index >= 0, steps < 16 {
            let range = ranges[index]
            if address < range.high { return Int(range.unit) }
            index -= 1
            steps += 1
        }
        return nil
    }

    /// Calls `body` with each non-empty address range `[low, high)` of `die` (`DW_AT_ranges`, or
    /// `low_pc`/`high_pc`); returns whether there was any.
    static func forEachRange(of die: inout Dwarf_Die, _ body: (UInt64, UInt64) -> Void) -> Bool {
        var base: Dwarf_Addr = 0
        var start: Dwarf_Addr = 0
        var end: Dwarf_Addr = 0
        var offset = dwarf_ranges(&die, 0, &base, &start, &end)
        var any = false
        while offset > 0 {
            if end > start {
                body(start, end)
                any = true
            }
            offset = dwarf_ranges(&die, offset, &base, &start, &end)
        }
        return any
    }
}
