/// The sorted index of compile-unit address ranges, built once per image.
extension DWARFIndex {
    struct CURange {
        var low: UInt64
        var high: UInt64
        var unit: Int32
    }

    /// Indexes the units with code as the native reader reads them (their unit DIEs' ranges).
    func buildUnitIndex(_ reader: DWARFReader) {
        for (index, unit) in reader.units.enumerated() where reader.holdsCode(unit) {
            guard let attributes = reader.unitDIEAttributes(unit) else { continue }
            let number = Int32(truncatingIfNeeded: units.count)
            let any = reader.forEachRange(attributes, unit) { ranges.append(CURange(low: $0, high: $1, unit: number)) }
            if any { units.append(Unit(dieOffset: UInt64(unit.dieOffset), native: index)) }
        }
        sortRanges()
    }

    /// Indexes the units with code as libdw reads them.
    func buildUnitIndex(_ libdw: LibdwDWARF) {
        for (dieOffset, unitRanges) in libdw.unitsWithCode() {
            let number = Int32(truncatingIfNeeded: units.count)
            for (low, high) in unitRanges { ranges.append(CURange(low: low, high: high, unit: number)) }
            units.append(Unit(dieOffset: dieOffset, native: -1))
        }
        sortRanges()
    }

    private func sortRanges() {
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
}
