/// The address ranges of a DIE, as libdw's `dwarf_ranges` gives them: `low_pc`/`high_pc` when
/// both read, else `DW_AT_ranges` in `.debug_ranges` (DWARF 2–4) or `.debug_rnglists` (DWARF 5).
extension DWARFReader {
    /// Range lists longer than this are cut (corrupt input must not loop for long).
    static let maximumRangeEntries = 1 << 20

    /// Calls `body` with each non-empty range `[low, high)` of the DIE whose attributes these
    /// are; returns whether there was any.
    @inline(__always)
    func forEachRange(
        _ attributes: DWARFDIEAttributes, _ unit: DWARFUnit, _ body: (UInt64, UInt64) -> Void
    ) -> Bool {
        if let highValue = attributes.highPC, let lowValue = attributes.lowPC, let low = address(lowValue, unit) {
            // dwarf_highpc: an address form, else a constant offset from low_pc.
            let high: UInt64?
            if let absolute = address(highValue, unit) {
                high = absolute
            } else if let offset = constant(highValue) {
                high = low &+ offset
            } else {
                high = nil
            }
            if let high {
                guard high > low else { return false }
                body(low, high)
                return true
            }
        }
        guard let rangesValue = attributes.ranges else { return false }
        return forEachRangeListEntry(rangesValue, unit, body)
    }

    private func forEachRangeListEntry(
        _ value: DWARFValue, _ unit: DWARFUnit, _ body: (UInt64, UInt64) -> Void
    ) -> Bool {
        let version5 = unit.format.version >= 5
        let section = sections[version5 ? .rnglists : .ranges]
        guard section.count > 0 else { return false }
        var start: UInt64
        if value.form == DW.formRnglistx {
            // The offset table after the unit's DW_AT_rnglists_base; entries are relative to it.
            let size = UInt64(unit.format.offsetSize)
            let base = unit.rnglistsBase
            guard size <= UInt64(section.count), base <= UInt64(section.count) - size else { return false }
            let maximum = (UInt64(section.count) - size - base) / size
            guard value.raw <= maximum else { return false }
            var cursor = DWARFCursor(section, offset: Int(base + value.raw * size))
            let relative = cursor.unsigned(size: unit.format.offsetSize)
            guard !cursor.failed else { return false }
            start = relative &+ base
        } else {
            guard let offset = sectionOffset(value, unit) else { return false }
            start = offset
        }
        guard start < UInt64(section.count) else { return false }
        var cursor = DWARFCursor(section, offset: Int(start))
        var base = unit.baseAddress
        var any = false
        let addressSize = unit.format.addressSize
        for _ in 0..<Self.maximumRangeEntries {
            var begin: UInt64 = 0
            var end: UInt64 = 0
            if version5 {
                let kind = cursor.u8()
                if cursor.failed { return any }
                switch kind {
                case 0:  // DW_RLE_end_of_list
                    return any
                case 1:  // DW_RLE_base_addressx
                    guard let address = indexedAddress(cursor.uleb(), unit), !cursor.failed else { return any }
                    base = address
                    continue
                case 2:  // DW_RLE_startx_endx
                    let first = cursor.uleb()
                    let second = cursor.uleb()
                    guard !cursor.failed, let low = indexedAddress(first, unit), let high = indexedAddress(second, unit)
                    else { return any }
                    begin = low
                    end = high
                case 3:  // DW_RLE_startx_length
                    let first = cursor.uleb()
                    let length = cursor.uleb()
                    guard !cursor.failed, let low = indexedAddress(first, unit) else { return any }
                    begin = low
                    end = low &+ length
                case 4:  // DW_RLE_offset_pair
                    let low = cursor.uleb()
                    let high = cursor.uleb()
                    guard !cursor.failed else { return any }
                    begin = low &+ base
                    end = high &+ base
                case 5:  // DW_RLE_base_address
                    base = cursor.unsigned(size: addressSize)
                    if cursor.failed { return any }
                    continue
                case 6:  // DW_RLE_start_end
                    begin = cursor.unsigned(size: addressSize)
                    end = cursor.unsigned(size: addressSize)
                    if cursor.failed { return any }
                case 7:  // DW_RLE_start_length
                    begin = cursor.unsigned(size: addressSize)
                    let length = cursor.uleb()
                    if cursor.failed { return any }
                    end = begin &+ length
                default:
                    return any
                }
            } else {
                let low = cursor.unsigned(size: addressSize)
                let high = cursor.unsigned(size: addressSize)
                if cursor.failed { return any }
                let escape: UInt64 = addressSize == 8 ? .max : UInt64(UInt32.max)
                if low == escape {
                    if high == escape { return any }
                    base = high
                    continue
                }
                if low == 0 && high == 0 { return any }
                begin = low &+ base
                end = high &+ base
            }
            if end > begin {
                body(begin, end)
                any = true
            }
        }
        return any
    }
}
