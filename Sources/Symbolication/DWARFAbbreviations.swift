/// The DWARF constants the native reader uses (DWARF 5, section 7, and the GNU extensions).
enum DW {
    // Forms.
    static let formAddr: UInt16 = 0x01, formBlock2: UInt16 = 0x03, formBlock4: UInt16 = 0x04
    static let formData2: UInt16 = 0x05, formData4: UInt16 = 0x06, formData8: UInt16 = 0x07
    static let formString: UInt16 = 0x08, formBlock: UInt16 = 0x09, formBlock1: UInt16 = 0x0a
    static let formData1: UInt16 = 0x0b, formFlag: UInt16 = 0x0c, formSdata: UInt16 = 0x0d
    static let formStrp: UInt16 = 0x0e, formUdata: UInt16 = 0x0f, formRefAddr: UInt16 = 0x10
    static let formRef1: UInt16 = 0x11, formRef2: UInt16 = 0x12, formRef4: UInt16 = 0x13
    static let formRef8: UInt16 = 0x14, formRefUdata: UInt16 = 0x15, formIndirect: UInt16 = 0x16
    static let formSecOffset: UInt16 = 0x17, formExprloc: UInt16 = 0x18, formFlagPresent: UInt16 = 0x19
    static let formStrx: UInt16 = 0x1a, formAddrx: UInt16 = 0x1b, formRefSup4: UInt16 = 0x1c
    static let formStrpSup: UInt16 = 0x1d, formData16: UInt16 = 0x1e, formLineStrp: UInt16 = 0x1f
    static let formRefSig8: UInt16 = 0x20, formImplicitConst: UInt16 = 0x21, formLoclistx: UInt16 = 0x22
    static let formRnglistx: UInt16 = 0x23, formRefSup8: UInt16 = 0x24
    static let formStrx1: UInt16 = 0x25, formStrx2: UInt16 = 0x26, formStrx3: UInt16 = 0x27, formStrx4: UInt16 = 0x28
    static let formAddrx1: UInt16 = 0x29, formAddrx2: UInt16 = 0x2a, formAddrx3: UInt16 = 0x2b, formAddrx4: UInt16 = 0x2c
    static let formGNUAddrIndex: UInt16 = 0x1f01, formGNUStrIndex: UInt16 = 0x1f02
    static let formGNURefAlt: UInt16 = 0x1f20, formGNUStrpAlt: UInt16 = 0x1f21

    // Attributes.
    static let atSibling: UInt64 = 0x01, atName: UInt64 = 0x03, atLowPC: UInt64 = 0x11, atHighPC: UInt64 = 0x12
    static let atStmtList: UInt64 = 0x10, atCompDir: UInt64 = 0x1b, atAbstractOrigin: UInt64 = 0x31
    static let atSpecification: UInt64 = 0x47, atRanges: UInt64 = 0x55, atEntryPC: UInt64 = 0x52
    static let atCallColumn: UInt64 = 0x57, atCallFile: UInt64 = 0x58, atCallLine: UInt64 = 0x59
    static let atLinkageName: UInt64 = 0x6e, atStrOffsetsBase: UInt64 = 0x72, atAddrBase: UInt64 = 0x73
    static let atRnglistsBase: UInt64 = 0x74, atMIPSLinkageName: UInt64 = 0x2007
    static let atGNURangesBase: UInt64 = 0x2132, atGNUAddrBase: UInt64 = 0x2133

    // Tags.
    static let tagClassType: UInt64 = 0x02, tagEntryPoint: UInt64 = 0x03, tagLexicalBlock: UInt64 = 0x0b
    static let tagCompileUnit: UInt64 = 0x11, tagStructureType: UInt64 = 0x13, tagUnionType: UInt64 = 0x17
    static let tagInlinedSubroutine: UInt64 = 0x1d, tagWithStmt: UInt64 = 0x22, tagCommonBlock: UInt64 = 0x1a
    static let tagCatchBlock: UInt64 = 0x25, tagSubprogram: UInt64 = 0x2e, tagTryBlock: UInt64 = 0x32
    static let tagNamespace: UInt64 = 0x39, tagModule: UInt64 = 0x1e, tagPartialUnit: UInt64 = 0x3c
    static let tagTypeUnit: UInt64 = 0x41

    // Unit types.
    static let utCompile: UInt8 = 1, utType: UInt8 = 2, utPartial: UInt8 = 3, utSkeleton: UInt8 = 4
    static let utSplitCompile: UInt8 = 5, utSplitType: UInt8 = 6

    /// Whether the native reader can read (or skip) values of `form`. The supplementary-file
    /// forms (`ref_sup*`, `strp_sup`, GNU `ref_alt`/`strp_alt`) need another file: libdw's job.
    static func isSupported(form: UInt16) -> Bool {
        switch form {
        case 0x01, 0x03...0x1b, 0x1e...0x23, 0x25...0x2c, formGNUAddrIndex, formGNUStrIndex: true
        default: false
        }
    }

    /// The size of a value of `form`, or `-1` when it varies (LEB128, strings, blocks, indirect).
    static func fixedSize(form: UInt16, format: DWARFFormat) -> Int {
        switch form {
        case formAddr: format.addressSize
        case formData1, formRef1, formFlag, formStrx1, formAddrx1: 1
        case formData2, formRef2, formStrx2, formAddrx2: 2
        case formStrx3, formAddrx3: 3
        case formData4, formRef4, formStrx4, formAddrx4, formRefSup4: 4
        case formData8, formRef8, formRefSig8, formRefSup8: 8
        case formData16: 16
        case formStrp, formLineStrp, formSecOffset, formStrpSup, formGNURefAlt, formGNUStrpAlt: format.offsetSize
        case formRefAddr: format.refAddrSize
        case formFlagPresent, formImplicitConst: 0
        default: -1
        }
    }
}

/// What the size of a unit's values depends on: its address size, offset size (4 in the 32-bit
/// DWARF format, 8 in the 64-bit one) and version (`ref_addr` is address-sized in DWARF 2).
struct DWARFFormat: Hashable, Sendable {
    var addressSize: Int
    var offsetSize: Int
    var version: UInt16

    var refAddrSize: Int { version <= 2 ? addressSize : offsetSize }
}

/// One attribute specification of an abbreviation: the attribute, its form, and the value of
/// a `DW_FORM_implicit_const`.
struct DWARFAttributeSpec: Sendable {
    var name: UInt64
    var form: UInt16
    var implicitConst: Int64
}

/// One abbreviation: the tag, whether DIEs using it have children, and its attribute
/// specifications (a range of the table's flat `specs`).
struct DWARFAbbreviation: Sendable {
    var tag: UInt64
    var hasChildren: Bool
    var specStart: Int32
    var specCount: Int32
    /// The bytes of all attribute values when every form has a fixed size (skipping the DIE is
    /// then one addition), else `-1`.
    var fixedSize: Int32
}

/// The abbreviation table at one `.debug_abbrev` offset, for one unit format: abbreviations in
/// flat arrays, found by code through a dense array (codes are usually 1, 2, 3, ...) or a
/// dictionary for the rest.
final class DWARFAbbreviationTable: Sendable {
    let abbreviations: [DWARFAbbreviation]
    let specs: [DWARFAttributeSpec]
    private let dense: [Int32]
    private let sparse: [UInt64: Int32]
    /// Whether an abbreviation uses a form the native reader does not read, or reaches a
    /// `DW_AT_abstract_origin`/`DW_AT_specification` through a type signature (the image falls
    /// back to libdw).
    let needsLibdw: Bool

    /// Parses the table at `offset` of `.debug_abbrev`; `nil` when it is truncated or malformed.
    init?(section: UnsafeRawBufferPointer, offset: UInt64, format: DWARFFormat) {
        guard offset < UInt64(section.count) else { return nil }
        var cursor = DWARFCursor(section, offset: Int(offset))
        var abbreviations: [DWARFAbbreviation] = []
        var specs: [DWARFAttributeSpec] = []
        var dense: [Int32] = []
        var sparse: [UInt64: Int32] = [:]
        var needsLibdw = false
        while true {
            let code = cursor.uleb()
            if cursor.failed { return nil }
            if code == 0 { break }
            let tag = cursor.uleb()
            let hasChildren = cursor.u8() != 0
            let start = specs.count
            var fixed = 0
            while true {
                let name = cursor.uleb()
                let rawForm = cursor.uleb()
                if cursor.failed { return nil }
                if name == 0 && rawForm == 0 { break }
                guard rawForm <= UInt64(UInt16.max) else { return nil }
                let form = UInt16(rawForm)
                let constant = form == DW.formImplicitConst ? cursor.sleb() : 0
                if !DW.isSupported(form: form) { needsLibdw = true }
                if (name == DW.atAbstractOrigin || name == DW.atSpecification) && form == DW.formRefSig8 {
                    needsLibdw = true
                }
                specs.append(DWARFAttributeSpec(name: name, form: form, implicitConst: constant))
                let size = DW.fixedSize(form: form, format: format)
                if size < 0 || fixed < 0 { fixed = -1 } else { fixed += size }
                guard specs.count - start <= 4096, specs.count < Int(Int32.max) else { return nil }
            }
            let index = Int32(abbreviations.count)
            abbreviations.append(DWARFAbbreviation(
                tag: tag, hasChildren: hasChildren, specStart: Int32(start), specCount: Int32(specs.count - start),
                fixedSize: fixed > Int(Int32.max) ? -1 : Int32(fixed)))
            if code < 65536 {
                let slot = Int(code)
                if dense.count <= slot { dense.append(contentsOf: repeatElement(-1, count: slot + 1 - dense.count)) }
                if dense[slot] < 0 { dense[slot] = index }
            } else if sparse[code] == nil {
                sparse[code] = index
            }
            guard abbreviations.count <= 1 << 20 else { return nil }
        }
        self.abbreviations = abbreviations
        self.specs = specs
        self.dense = dense
        self.sparse = sparse
        self.needsLibdw = needsLibdw
    }

    /// The index in `abbreviations` of the abbreviation with `code`, or `-1`.
    @inline(__always)
    func index(of code: UInt64) -> Int {
        if code < UInt64(dense.count) { return Int(dense[Int(code)]) }
        return sparse[code].map(Int.init) ?? -1
    }
}
