/// A string in one of the DWARF sections: its section and offset (read up to its NUL).
struct DWARFStringRef: Sendable, Hashable {
    var section: DWARFSections.Name
    var offset: UInt64
}

/// One attribute value as read from a DIE: its (resolved, never `indirect`) form and the raw
/// number the form encodes — the integer, address, index or offset; for `DW_FORM_string` and
/// blocks the `.debug_info` offset of the bytes.
struct DWARFValue {
    var form: UInt16
    var raw: UInt64
}

/// One unit of `.debug_info`: where it is, its format, its abbreviation table, and what its
/// unit DIE says that reading its other DIEs needs (bases for indexed forms, the base address
/// of its range lists, its line table and compilation directory).
struct DWARFUnit: Sendable {
    /// The offset of the unit header in `.debug_info` (CU-relative references count from it).
    var offset: Int
    /// One past the unit's last byte.
    var end: Int
    /// The offset of the unit DIE.
    var dieOffset: Int
    var format: DWARFFormat
    /// `DW_UT_*` (for DWARF 2–4, derived from the unit DIE as libdw derives it).
    var unitType: UInt8
    /// The index of its abbreviation table in `DWARFReader.tables`.
    var table: Int
    var tag: UInt64 = 0
    var addrBase: UInt64 = 0
    var strOffsetsBase: UInt64 = 0
    var rnglistsBase: UInt64 = 0
    /// The base address of its range lists (`DW_AT_low_pc`, else `DW_AT_entry_pc`, else 0).
    var baseAddress: UInt64 = 0
    /// `DW_AT_stmt_list`: the offset of its line program in `.debug_line`.
    var stmtList: UInt64?
    var compDir: DWARFStringRef?
}

/// The attributes of one DIE the reader looks at, as found among its attribute values (the
/// first occurrence of each).
struct DWARFDIEAttributes {
    var lowPC: DWARFValue?
    var highPC: DWARFValue?
    var ranges: DWARFValue?
    var sibling: DWARFValue?
    var callFile: DWARFValue?
    var callLine: DWARFValue?
    var callColumn: DWARFValue?
}

/// Decoding one unit's attribute values: reading or skipping a value of each form, and
/// resolving strings, addresses, constants and references as libdw's `dwarf_form*` do.
extension DWARFReader {
    /// Reads a value of `form` at `cursor` (following `DW_FORM_indirect`, at most a few times).
    @inline(__always)
    func readValue(_ form: UInt16, implicitConst: Int64, _ cursor: inout DWARFCursor, _ format: DWARFFormat) -> DWARFValue {
        var form = form
        var hops = 0
        while true {
            switch form {
            case DW.formAddr: return DWARFValue(form: form, raw: cursor.unsigned(size: format.addressSize))
            case DW.formData1, DW.formRef1, DW.formFlag, DW.formStrx1, DW.formAddrx1:
                return DWARFValue(form: form, raw: UInt64(cursor.u8()))
            case DW.formData2, DW.formRef2, DW.formStrx2, DW.formAddrx2:
                return DWARFValue(form: form, raw: UInt64(cursor.u16()))
            case DW.formStrx3, DW.formAddrx3: return DWARFValue(form: form, raw: UInt64(cursor.u24()))
            case DW.formData4, DW.formRef4, DW.formStrx4, DW.formAddrx4, DW.formRefSup4:
                return DWARFValue(form: form, raw: UInt64(cursor.u32()))
            case DW.formData8, DW.formRef8, DW.formRefSig8, DW.formRefSup8:
                return DWARFValue(form: form, raw: cursor.u64())
            case DW.formData16:
                let at = cursor.offset
                _ = cursor.skip(16)
                return DWARFValue(form: form, raw: UInt64(at))
            case DW.formSdata: return DWARFValue(form: form, raw: UInt64(bitPattern: cursor.sleb()))
            case DW.formUdata, DW.formRefUdata, DW.formStrx, DW.formAddrx, DW.formLoclistx, DW.formRnglistx,
                 DW.formGNUAddrIndex, DW.formGNUStrIndex:
                return DWARFValue(form: form, raw: cursor.uleb())
            case DW.formStrp, DW.formLineStrp, DW.formSecOffset, DW.formStrpSup, DW.formGNURefAlt, DW.formGNUStrpAlt:
                return DWARFValue(form: form, raw: cursor.unsigned(size: format.offsetSize))
            case DW.formRefAddr: return DWARFValue(form: form, raw: cursor.unsigned(size: format.refAddrSize))
            case DW.formString: return DWARFValue(form: form, raw: UInt64(cursor.skipCString()))
            case DW.formFlagPresent: return DWARFValue(form: form, raw: 1)
            case DW.formImplicitConst: return DWARFValue(form: form, raw: UInt64(bitPattern: implicitConst))
            case DW.formBlock1:
                let length = Int(cursor.u8())
                let at = cursor.offset
                _ = cursor.skip(length)
                return DWARFValue(form: form, raw: UInt64(at))
            case DW.formBlock2:
                let length = Int(cursor.u16())
                let at = cursor.offset
                _ = cursor.skip(length)
                return DWARFValue(form: form, raw: UInt64(at))
            case DW.formBlock4:
                let length = Int(cursor.u32())
                let at = cursor.offset
                _ = cursor.skip(length)
                return DWARFValue(form: form, raw: UInt64(at))
            case DW.formBlock, DW.formExprloc:
                let length = cursor.uleb()
                let at = cursor.offset
                _ = cursor.skip(length > UInt64(Int.max) ? -1 : Int(length))
                return DWARFValue(form: form, raw: UInt64(at))
            case DW.formIndirect:
                let next = cursor.uleb()
                hops += 1
                guard hops < 8, next <= UInt64(UInt16.max), next != UInt64(DW.formIndirect) || hops < 8 else {
                    cursor.failed = true
                    return DWARFValue(form: 0, raw: 0)
                }
                form = UInt16(next)
            default:
                cursor.failed = true
                return DWARFValue(form: form, raw: 0)
            }
        }
    }

    /// Moves `cursor` past the attribute values of a DIE using `abbreviation` of `table`,
    /// collecting the attributes `DWARFDIEAttributes` holds when `collect` is set.
    @inline(__always)
    func readAttributes(
        _ abbreviation: DWARFAbbreviation, _ table: DWARFAbbreviationTable, _ cursor: inout DWARFCursor,
        _ format: DWARFFormat, collect: Bool
    ) -> DWARFDIEAttributes {
        var attributes = DWARFDIEAttributes()
        if !collect, abbreviation.fixedSize >= 0 {
            _ = cursor.skip(Int(abbreviation.fixedSize))
            return attributes
        }
        let start = Int(abbreviation.specStart)
        let end = start + Int(abbreviation.specCount)
        table.specs.withUnsafeBufferPointer { specs in
            for index in start..<end {
                let spec = specs[index]
                let value = readValue(spec.form, implicitConst: spec.implicitConst, &cursor, format)
                guard collect else { continue }
                switch spec.name {
                case DW.atLowPC: if attributes.lowPC == nil { attributes.lowPC = value }
                case DW.atHighPC: if attributes.highPC == nil { attributes.highPC = value }
                case DW.atRanges: if attributes.ranges == nil { attributes.ranges = value }
                case DW.atSibling: if attributes.sibling == nil { attributes.sibling = value }
                case DW.atCallFile: if attributes.callFile == nil { attributes.callFile = value }
                case DW.atCallLine: if attributes.callLine == nil { attributes.callLine = value }
                case DW.atCallColumn: if attributes.callColumn == nil { attributes.callColumn = value }
                default: break
                }
            }
        }
        return attributes
    }

    // MARK: - Resolving values

    /// `dwarf_formaddr`: an address form's address (`addrx` forms through `.debug_addr`).
    func address(_ value: DWARFValue, _ unit: DWARFUnit) -> UInt64? {
        switch value.form {
        case DW.formAddr: return value.raw
        case DW.formAddrx, DW.formAddrx1, DW.formAddrx2, DW.formAddrx3, DW.formAddrx4, DW.formGNUAddrIndex:
            return indexedAddress(value.raw, unit)
        default: return nil
        }
    }

    /// Entry `index` of the unit's `.debug_addr` table.
    func indexedAddress(_ index: UInt64, _ unit: DWARFUnit) -> UInt64? {
        let size = UInt64(unit.format.addressSize)
        let (scaled, overflow) = index.multipliedReportingOverflow(by: size)
        let (offset, overflow2) = unit.addrBase.addingReportingOverflow(scaled)
        guard !overflow, !overflow2, offset <= UInt64(Int.max) else { return nil }
        var cursor = DWARFCursor(sections[.addr], offset: Int(offset))
        let address = cursor.unsigned(size: unit.format.addressSize)
        return cursor.failed ? nil : address
    }

    /// `dwarf_formudata` for the constant forms.
    func constant(_ value: DWARFValue) -> UInt64? {
        switch value.form {
        case DW.formData1, DW.formData2, DW.formData4, DW.formData8, DW.formUdata, DW.formSdata, DW.formImplicitConst:
            return value.raw
        default: return nil
        }
    }

    /// A section offset (`DW_FORM_sec_offset`, or `data4`/`data8` before DWARF 4).
    func sectionOffset(_ value: DWARFValue, _ unit: DWARFUnit) -> UInt64? {
        switch value.form {
        case DW.formSecOffset: return value.raw
        case DW.formData4, DW.formData8: return unit.format.version < 4 ? value.raw : nil
        default: return nil
        }
    }

    /// Where a string form's text is.
    func stringRef(_ value: DWARFValue, _ unit: DWARFUnit) -> DWARFStringRef? {
        switch value.form {
        case DW.formString: return DWARFStringRef(section: .info, offset: value.raw)
        case DW.formStrp: return DWARFStringRef(section: .str, offset: value.raw)
        case DW.formLineStrp: return DWARFStringRef(section: .lineStr, offset: value.raw)
        case DW.formStrx, DW.formStrx1, DW.formStrx2, DW.formStrx3, DW.formStrx4, DW.formGNUStrIndex:
            let size = UInt64(unit.format.offsetSize)
            let (scaled, overflow) = value.raw.multipliedReportingOverflow(by: size)
            let (offset, overflow2) = unit.strOffsetsBase.addingReportingOverflow(scaled)
            guard !overflow, !overflow2, offset <= UInt64(Int.max) else { return nil }
            var cursor = DWARFCursor(sections[.strOffsets], offset: Int(offset))
            let target = cursor.unsigned(size: unit.format.offsetSize)
            return cursor.failed ? nil : DWARFStringRef(section: .str, offset: target)
        default: return nil
        }
    }

    /// The bytes of a string (up to its NUL); `nil` when it is outside its section.
    func bytes(of string: DWARFStringRef) -> UnsafeRawBufferPointer? {
        sections.cString(string.section, at: string.offset)
    }

    /// `dwarf_formref_die`: the `.debug_info` offset of the DIE a reference names; `nil` for
    /// type signatures and references outside their unit.
    func reference(_ value: DWARFValue, _ unit: DWARFUnit) -> Int? {
        switch value.form {
        case DW.formRef1, DW.formRef2, DW.formRef4, DW.formRef8, DW.formRefUdata:
            guard value.raw < UInt64(unit.end - unit.offset) else { return nil }
            return unit.offset + Int(value.raw)
        case DW.formRefAddr:
            guard value.raw < UInt64(sections[.info].count) else { return nil }
            return Int(value.raw)
        default:
            return nil
        }
    }
}
