import CElfutils

/// The DWARF of one image read through libdw: what `DWARFIndex` uses when its native reader
/// leaves an image (or a unit's line table) to libdw. It gives the same plain values the native
/// reader gives: unit ranges, scope trees, line tables in libdw's sorted order, DIE names.
///
/// A libdw handle is not thread-safe: confine an instance to one thread at a time.
final class LibdwDWARF {
    /// The image whose DWARF this is (kept alive for the `Elf` handle).
    let image: ELFImage
    private let dwarf: OpaquePointer

    /// Opens the DWARF of `image`; `nil` when libdw cannot read it.
    init?(image: ELFImage) {
        guard let dwarf = dwarf_begin_elf(image.elf, DWARF_C_READ, nil) else { return nil }
        self.image = image
        self.dwarf = dwarf
    }

    /// Opens the file at `path` again, for a handle of its own (another thread, or sections
    /// left as libelf first gave them).
    convenience init?(path: String) {
        guard let image = try? ELFImage(path: path) else { return nil }
        self.init(image: image)
    }

    deinit {
        dwarf_end(dwarf)
    }

    // MARK: - Units

    /// Each unit with code: the offset of its unit DIE and its address ranges.
    func unitsWithCode() -> [(dieOffset: UInt64, ranges: [(UInt64, UInt64)])] {
        var result: [(dieOffset: UInt64, ranges: [(UInt64, UInt64)])] = []
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
            var ranges: [(UInt64, UInt64)] = []
            _ = Self.forEachRange(of: &die) { ranges.append(($0, $1)) }
            if !ranges.isEmpty { result.append((dwarf_dieoffset(&cudie), ranges)) }
        }
        return result
    }

    private func unitDIE(at offset: UInt64) -> Dwarf_Die? {
        var die = Dwarf_Die()
        return dwarf_offdie(dwarf, offset, &die) != nil ? die : nil
    }

    // MARK: - Scopes

    /// The scope tree of the unit whose DIE is at `offset`.
    func scopes(ofUnitAt offset: UInt64) -> DWARFIndex.Scopes {
        guard var die = unitDIE(at: offset) else { return DWARFIndex.Scopes() }
        var scopes = DWARFIndex.Scopes()
        var intervals: [DWARFIndex.Interval] = []
        Self.walk(&die, nodes: &scopes.nodes, parent: -1, depth: 0, intervals: &intervals)
        (scopes.segmentStarts, scopes.segmentNodes) = DWARFIndex.segments(intervals)
        return scopes
    }

    private static func walk(
        _ die: inout Dwarf_Die, nodes: inout [DWARFIndex.ScopeNode], parent: Int32, depth: Int32,
        intervals: inout [DWARFIndex.Interval]
    ) {
        var child = Dwarf_Die()
        guard dwarf_child(&die, &child) == 0 else { return }
        repeat {
            let tag = Int(dwarf_tag(&child))
            switch tag {
            case DW_TAG_subprogram, DW_TAG_inlined_subroutine:
                let inlined = tag == DW_TAG_inlined_subroutine
                let node = Int32(nodes.count)
                let any = forEachRange(of: &child) {
                    intervals.append(DWARFIndex.Interval(low: $0, high: $1, node: node, depth: depth))
                }
                // Declarations and abstract instances have no code (nor do their children).
                guard any else { continue }
                var scope = DWARFIndex.ScopeNode(
                    dieOffset: dwarf_dieoffset(&child), parent: inlined ? parent : -1,
                    isInlined: inlined, callFile: 0, callLine: 0, callColumn: 0)
                if inlined {
                    scope.callFile = UInt32(truncatingIfNeeded: unsignedAttribute(&child, DW_AT_call_file))
                    scope.callLine = UInt32(truncatingIfNeeded: unsignedAttribute(&child, DW_AT_call_line))
                    scope.callColumn = UInt32(truncatingIfNeeded: unsignedAttribute(&child, DW_AT_call_column))
                }
                nodes.append(scope)
                if dwarf_haschildren(&child) != 0 {
                    walk(&child, nodes: &nodes, parent: node, depth: depth + 1, intervals: &intervals)
                }
            case DW_TAG_lexical_block, DW_TAG_try_block, DW_TAG_catch_block, DW_TAG_with_stmt,
                 DW_TAG_namespace, DW_TAG_module, DW_TAG_class_type, DW_TAG_structure_type,
                 DW_TAG_union_type, DW_TAG_entry_point, DW_TAG_common_block:
                if dwarf_haschildren(&child) != 0 {
                    walk(&child, nodes: &nodes, parent: parent, depth: depth, intervals: &intervals)
                }
            default:
                continue
            }
        } while advance(&child)
    }

    /// Moves `die` to its next sibling; `false` when there is none.
    private static func advance(_ die: inout Dwarf_Die) -> Bool {
        var sibling = Dwarf_Die()
        guard dwarf_siblingof(&die, &sibling) == 0 else { return false }
        die = sibling
        return true
    }

    private static func unsignedAttribute(_ die: inout Dwarf_Die, _ name: Int) -> UInt64 {
        var attribute = Dwarf_Attribute()
        var value: Dwarf_Word = 0
        guard dwarf_attr(&die, UInt32(name), &attribute) != nil, dwarf_formudata(&attribute, &value) == 0
        else { return 0 }
        return value
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

    // MARK: - Line tables

    /// The line table of the unit whose DIE is at `offset`, rows in libdw's sorted order and
    /// files as libdw joined them; `nil` when it has none libdw can read.
    func lineTable(ofUnitAt offset: UInt64) -> DWARFLineTable? {
        guard var die = unitDIE(at: offset) else { return nil }
        var lines: OpaquePointer? = nil
        var count = 0
        guard dwarf_getsrclines(&die, &lines, &count) == 0, let lines else { return nil }
        var table = DWARFLineTable()
        var files: OpaquePointer? = nil
        var fileCount = 0
        var indexByName: [Int: UInt32] = [:]
        if dwarf_getsrcfiles(&die, &files, &fileCount) == 0, let files {
            for index in 0..<fileCount {
                guard let name = dwarf_filesrc(files, index, nil, nil) else {
                    table.files.append(.text(""))
                    continue
                }
                table.files.append(.text(String(cString: name)))
                let key = Int(bitPattern: name)
                if indexByName[key] == nil { indexByName[key] = UInt32(index) }
            }
        }
        table.rows.reserveCapacity(count)
        for index in 0..<count {
            guard let row = dwarf_onesrcline(lines, index) else { return nil }
            var address: Dwarf_Addr = 0
            var line: Int32 = 0
            var column: Int32 = 0
            var endSequence = false
            _ = dwarf_lineaddr(row, &address)
            _ = dwarf_lineno(row, &line)
            _ = dwarf_linecol(row, &column)
            _ = dwarf_lineendsequence(row, &endSequence)
            let file = dwarf_linesrc(row, nil, nil).flatMap { indexByName[Int(bitPattern: $0)] } ?? UInt32.max
            table.rows.append(DWARFLineRow(
                address: address, file: file, line: line, column: UInt16(truncatingIfNeeded: column),
                isEndSequence: endSequence))
        }
        return table
    }

    /// `DW_AT_comp_dir` of the unit whose DIE is at `offset`.
    func compilationDirectory(ofUnitAt offset: UInt64) -> String? {
        guard var die = unitDIE(at: offset) else { return nil }
        var attribute = Dwarf_Attribute()
        guard dwarf_attr(&die, UInt32(DW_AT_comp_dir), &attribute) != nil, let dir = dwarf_formstring(&attribute)
        else { return nil }
        return String(cString: dir)
    }

    // MARK: - Names

    /// The linkage name (following `DW_AT_abstract_origin` / `DW_AT_specification`), else
    /// `DW_AT_name`, of the DIE at `offset`.
    func name(ofDIE offset: UInt64) -> String? {
        var die = Dwarf_Die()
        guard dwarf_offdie(dwarf, offset, &die) != nil else { return nil }
        var attribute = Dwarf_Attribute()
        for name in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name] {
            if dwarf_attr_integrate(&die, UInt32(name), &attribute) != nil, let text = dwarf_formstring(&attribute) {
                return String(cString: text)
            }
        }
        return nil
    }
}
