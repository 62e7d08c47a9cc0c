/// A native reader of one image's DWARF: the unit headers of `.debug_info`, their abbreviation
/// tables and what their unit DIEs say, read once; DIEs and line programs are then read from
/// the section bytes on demand (`DWARFReader+Scopes`, `DWARFLineProgram`, `DWARFReader+Names`).
///
/// Immutable after `init` and holding only plain values and pointers into the image's sections,
/// so any thread may use it while the image lives.
struct DWARFReader: @unchecked Sendable {
    let sections: DWARFSections
    /// Every unit of `.debug_info`, in section order.
    private(set) var units: [DWARFUnit]
    let tables: [DWARFAbbreviationTable]

    /// Why the native reader leaves an image to libdw.
    enum Unsupported: Error, CustomStringConvertible {
        case bigEndian
        case alternateFile
        case unitHeader(offset: Int)
        case abbreviations(offset: Int)
        case forms(offset: Int)

        var description: String {
            switch self {
            case .bigEndian: "big-endian image"
            case .alternateFile: "DWARF in a .gnu_debugaltlink (dwz) file"
            case .unitHeader(let offset): "unit header at .debug_info+\(offset) not read"
            case .abbreviations(let offset): "abbreviations of the unit at .debug_info+\(offset) not read"
            case .forms(let offset): "forms of the unit at .debug_info+\(offset) need libdw"
            }
        }
    }

    /// Reads the unit headers and unit DIEs of `image`; throws when something there is beyond
    /// the native reader (the caller then uses libdw for the whole image).
    init(image: ELFImage) throws(Unsupported) {
        guard let sections = DWARFSections(image: image) else { throw .bigEndian }
        try self.init(sections: sections)
    }

    /// The same from sections already read (reading them is the only part that calls libelf:
    /// this one may run beside another thread's use of the image).
    init(sections: DWARFSections) throws(Unsupported) {
        guard !sections.hasAltLink else { throw .alternateFile }
        self.sections = sections
        let info = sections[.info]
        var units: [DWARFUnit] = []
        var tables: [DWARFAbbreviationTable] = []
        var tableIndex: [TableKey: Int] = [:]
        var cursor = DWARFCursor(info)
        let defaultStrOffsetsBase = Self.defaultStrOffsetsBase(sections[.strOffsets])
        let defaultRnglistsBase = Self.defaultRnglistsBase(sections[.rnglists])
        while cursor.remaining > 0 {
            let offset = cursor.offset
            guard let initial = cursor.initialLength(), !cursor.failed,
                  initial.length <= UInt64(cursor.remaining), initial.length >= 2
            else { throw .unitHeader(offset: offset) }
            let (length, offsetSize) = initial
            let end = cursor.offset + Int(length)
            let version = cursor.u16()
            guard (2...5).contains(version) else { throw .unitHeader(offset: offset) }
            var unitType: UInt8 = DW.utCompile
            let addressSize: Int
            let abbrevOffset: UInt64
            if version >= 5 {
                unitType = cursor.u8()
                addressSize = Int(cursor.u8())
                abbrevOffset = cursor.unsigned(size: offsetSize)
                switch unitType {
                case DW.utCompile, DW.utPartial: break
                case DW.utSkeleton, DW.utSplitCompile: _ = cursor.skip(8)
                case DW.utType, DW.utSplitType: _ = cursor.skip(8 + offsetSize)
                default: throw .unitHeader(offset: offset)
                }
            } else {
                abbrevOffset = cursor.unsigned(size: offsetSize)
                addressSize = Int(cursor.u8())
            }
            guard !cursor.failed, addressSize == 4 || addressSize == 8, cursor.offset <= end else {
                throw .unitHeader(offset: offset)
            }
            let format = DWARFFormat(addressSize: addressSize, offsetSize: offsetSize, version: version)
            let key = TableKey(offset: abbrevOffset, format: format)
            let table: Int
            if let known = tableIndex[key] {
                table = known
            } else {
                guard let parsed = DWARFAbbreviationTable(section: sections[.abbrev], offset: abbrevOffset, format: format)
                else { throw .abbreviations(offset: offset) }
                guard !parsed.needsLibdw else { throw .forms(offset: offset) }
                table = tables.count
                tables.append(parsed)
                tableIndex[key] = table
            }
            var unit = DWARFUnit(
                offset: offset, end: end, dieOffset: cursor.offset, format: format, unitType: unitType, table: table)
            unit.strOffsetsBase = version >= 5 ? defaultStrOffsetsBase : 0
            unit.rnglistsBase = version >= 5 ? defaultRnglistsBase : 0
            units.append(unit)
            cursor = DWARFCursor(info, offset: end)
        }
        self.units = units
        self.tables = tables
        self.units = self.units.map { readUnitDIE($0) }
    }

    private struct TableKey: Hashable {
        var offset: UInt64
        var format: DWARFFormat
    }

    /// The unit with what its unit DIE says filled in (bases, base address, line table,
    /// compilation directory, the unit type libdw derives for DWARF 2–4).
    private func readUnitDIE(_ unit: DWARFUnit) -> DWARFUnit {
        var unit = unit
        let table = tables[unit.table]
        var cursor = DWARFCursor(sections[.info], offset: unit.dieOffset)
        let code = cursor.uleb()
        let index = table.index(of: code)
        guard !cursor.failed, code != 0, index >= 0, cursor.offset <= unit.end else { return unit }
        let abbreviation = table.abbreviations[index]
        unit.tag = abbreviation.tag
        var lowPC: DWARFValue?
        var entryPC: DWARFValue?
        var stmtList: DWARFValue?
        var compDir: DWARFValue?
        var strOffsetsBase: DWARFValue?
        var addrBase: DWARFValue?
        var gnuAddrBase: DWARFValue?
        var rnglistsBase: DWARFValue?
        var dwoID = false
        var dwoName = false
        for spec in table.specs[Int(abbreviation.specStart)..<Int(abbreviation.specStart + abbreviation.specCount)] {
            let value = readValue(spec.form, implicitConst: spec.implicitConst, &cursor, unit.format)
            if cursor.failed { return unit }
            switch spec.name {
            case DW.atLowPC: if lowPC == nil { lowPC = value }
            case DW.atEntryPC: if entryPC == nil { entryPC = value }
            case DW.atStmtList: if stmtList == nil { stmtList = value }
            case DW.atCompDir: if compDir == nil { compDir = value }
            case DW.atStrOffsetsBase: if strOffsetsBase == nil { strOffsetsBase = value }
            case DW.atAddrBase: if addrBase == nil { addrBase = value }
            case DW.atGNUAddrBase: if gnuAddrBase == nil { gnuAddrBase = value }
            case DW.atRnglistsBase: if rnglistsBase == nil { rnglistsBase = value }
            case 0x2131: dwoID = dwoID || constant(value) != nil  // DW_AT_GNU_dwo_id
            case 0x2130: dwoName = true  // DW_AT_GNU_dwo_name
            default: break
            }
        }
        // libdw reads bases with dwarf_formudata: section offsets and constants.
        func base(_ value: DWARFValue?) -> UInt64? {
            guard let value else { return nil }
            return value.form == DW.formSecOffset ? value.raw : constant(value)
        }
        if let value = base(gnuAddrBase) ?? base(addrBase) { unit.addrBase = value }
        if let value = base(strOffsetsBase) { unit.strOffsetsBase = value }
        if unit.format.version >= 5, let value = base(rnglistsBase), value != 0 { unit.rnglistsBase = value }
        let context = unit
        unit.baseAddress = lowPC.flatMap { address($0, context) } ?? entryPC.flatMap { address($0, context) } ?? 0
        unit.stmtList = stmtList.flatMap { sectionOffset($0, context) }
        unit.compDir = compDir.flatMap { stringRef($0, context) }
        if unit.format.version < 5 {
            switch unit.tag {
            case DW.tagCompileUnit where dwoID:
                unit.unitType = !abbreviation.hasChildren && dwoName ? DW.utSkeleton : DW.utSplitCompile
            case DW.tagPartialUnit: unit.unitType = DW.utPartial
            case DW.tagTypeUnit: unit.unitType = DW.utType
            default: unit.unitType = DW.utCompile
            }
        }
        return unit
    }

    /// Whether `unit` can hold code (libdw's compile, partial and skeleton units).
    func holdsCode(_ unit: DWARFUnit) -> Bool {
        unit.unitType == DW.utCompile || unit.unitType == DW.utPartial || unit.unitType == DW.utSkeleton
    }

    /// The attributes of the unit DIE that give its ranges.
    func unitDIEAttributes(_ unit: DWARFUnit) -> DWARFDIEAttributes? {
        let table = tables[unit.table]
        var cursor = DWARFCursor(sections[.info], offset: unit.dieOffset)
        let index = table.index(of: cursor.uleb())
        guard !cursor.failed, index >= 0 else { return nil }
        let attributes = readAttributes(table.abbreviations[index], table, &cursor, unit.format, collect: true)
        return cursor.failed || cursor.offset > unit.end ? nil : attributes
    }

    /// The index in `units` of the unit holding `.debug_info` offset `offset`.
    func unitIndex(containingOffset offset: Int) -> Int? {
        var low = 0
        var high = units.count
        while low < high {
            let mid = (low + high) >> 1
            if units[mid].offset <= offset { low = mid + 1 } else { high = mid }
        }
        guard low > 0, offset < units[low - 1].end, offset >= units[low - 1].dieOffset else { return nil }
        return low - 1
    }

    /// libdw's `.debug_str_offsets` base for a DWARF 5 unit without `DW_AT_str_offsets_base`:
    /// just past the section's first header.
    private static func defaultStrOffsetsBase(_ section: UnsafeRawBufferPointer) -> UInt64 {
        var cursor = DWARFCursor(section)
        guard section.count >= 4 else { return 0 }
        var length = UInt64(cursor.u32())
        if length == 0xffff_ffff {
            guard cursor.remaining >= 8 else { return 0 }
            length = cursor.u64()
        }
        guard cursor.remaining >= 4, length >= 4, UInt64(cursor.remaining) >= length else { return 0 }
        guard cursor.u16() == 5 else { return 0 }
        _ = cursor.u16()
        return cursor.failed ? 0 : UInt64(cursor.offset)
    }

    /// libdw's `.debug_rnglists` base for a DWARF 5 unit without `DW_AT_rnglists_base`: the
    /// offset table of the section's first header, when it has one.
    private static func defaultRnglistsBase(_ section: UnsafeRawBufferPointer) -> UInt64 {
        guard section.count >= 4 else { return 0 }
        var cursor = DWARFCursor(section)
        var length = UInt64(cursor.u32())
        var offsetSize: UInt64 = 4
        if length == 0xffff_ffff {
            guard cursor.remaining >= 8 else { return 0 }
            length = cursor.u64()
            offsetSize = 8
        }
        guard cursor.remaining >= 8, length >= 8, length <= UInt64(cursor.remaining) else { return 0 }
        guard cursor.u16() == 5 else { return 0 }
        let addressSize = cursor.u8()
        guard addressSize == 4 || addressSize == 8, cursor.u8() == 0 else { return 0 }
        let count = UInt64(cursor.u32())
        guard count > 0, length - 8 >= count * offsetSize, !cursor.failed else { return 0 }
        return UInt64(cursor.offset)
    }
}
