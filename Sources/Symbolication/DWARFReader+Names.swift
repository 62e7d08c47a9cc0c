/// DIE names as `DWARFIndex.name(ofDIE:)` gives them: the linkage name, the MIPS linkage name,
/// else the name, each looked up the way libdw's `dwarf_attr_integrate` looks (through
/// `DW_AT_abstract_origin`, else `DW_AT_specification`, at most 16 DIEs deep).
extension DWARFReader {
    /// The attributes of one DIE that naming reads.
    private struct NamingAttributes {
        var unit: DWARFUnit
        /// Linkage name, MIPS linkage name, name.
        var names: [DWARFValue?] = [nil, nil, nil]
        var origin: DWARFValue?
        var specification: DWARFValue?
    }

    /// The name of the DIE at `.debug_info` offset `offset`; `nil` when it has none or the
    /// offset is not a DIE.
    func name(ofDIE offset: UInt64) -> String? {
        guard offset <= UInt64(Int.max), let first = namingAttributes(at: Int(offset)) else { return nil }
        var chain: [NamingAttributes] = [first]
        var chainEnded = false
        for which in 0..<3 {
            var depth = 0
            while depth < 16 {
                if depth == chain.count {
                    // Follow the previous DIE's origin, else its specification.
                    guard !chainEnded else { break }
                    let previous = chain[depth - 1]
                    guard let link = previous.origin ?? previous.specification,
                          let target = reference(link, previous.unit),
                          let next = namingAttributes(at: target)
                    else {
                        chainEnded = true
                        break
                    }
                    chain.append(next)
                }
                let die = chain[depth]
                if let value = die.names[which] {
                    if let text = stringRef(value, die.unit).flatMap(bytes(of:)) {
                        return String(decoding: text, as: UTF8.self)
                    }
                    break
                }
                if die.origin == nil && die.specification == nil { break }
                depth += 1
            }
        }
        return nil
    }

    private func namingAttributes(at offset: Int) -> NamingAttributes? {
        guard let unitIndex = unitIndex(containingOffset: offset) else { return nil }
        let unit = units[unitIndex]
        let table = tables[unit.table]
        let info = sections[.info]
        var cursor = DWARFCursor(UnsafeRawBufferPointer(rebasing: info[0..<min(unit.end, info.count)]), offset: offset)
        let code = cursor.uleb()
        let index = table.index(of: code)
        guard !cursor.failed, code != 0, index >= 0 else { return nil }
        let abbreviation = table.abbreviations[index]
        var attributes = NamingAttributes(unit: unit)
        for spec in table.specs[Int(abbreviation.specStart)..<Int(abbreviation.specStart + abbreviation.specCount)] {
            let value = readValue(spec.form, implicitConst: spec.implicitConst, &cursor, unit.format)
            if cursor.failed { return nil }
            switch spec.name {
            case DW.atLinkageName: if attributes.names[0] == nil { attributes.names[0] = value }
            case DW.atMIPSLinkageName: if attributes.names[1] == nil { attributes.names[1] = value }
            case DW.atName: if attributes.names[2] == nil { attributes.names[2] = value }
            case DW.atAbstractOrigin: if attributes.origin == nil { attributes.origin = value }
            case DW.atSpecification: if attributes.specification == nil { attributes.specification = value }
            default: break
            }
        }
        return attributes
    }
}
