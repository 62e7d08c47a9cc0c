/// A unit's inline scopes read from its DIEs: the same tree and segments the libdw walk in
/// `DWARFIndex+InlineScopes` builds (subprograms and inlined subroutines with code, entered
/// through lexical blocks, namespaces, types and the like), without libdw.
extension DWARFReader {
    /// DIE trees nested deeper than this are skipped below that depth (corrupt input must not
    /// exhaust the stack).
    static let maximumDepth = 256

    /// The scope tree and innermost-scope segments of `unit`; what corrupt DIEs hide is left out.
    func scopes(ofUnit unit: DWARFUnit) -> DWARFIndex.Scopes {
        var walker = ScopeWalker(reader: self, unit: unit)
        walker.walkUnit()
        var scopes = DWARFIndex.Scopes()
        scopes.nodes = walker.nodes
        (scopes.segmentStarts, scopes.segmentNodes) = DWARFIndex.segments(walker.intervals)
        return scopes
    }
}

/// One walk over a unit's DIEs.
private struct ScopeWalker {
    let reader: DWARFReader
    let unit: DWARFUnit
    let table: DWARFAbbreviationTable
    var cursor: DWARFCursor
    var nodes: [DWARFIndex.ScopeNode] = []
    var intervals: [DWARFIndex.Interval] = []

    init(reader: DWARFReader, unit: DWARFUnit) {
        self.reader = reader
        self.unit = unit
        self.table = reader.tables[unit.table]
        // The cursor ends with the unit: nothing past it is read as this unit's DIEs.
        let info = reader.sections[.info]
        let end = min(unit.end, info.count)
        cursor = DWARFCursor(UnsafeRawBufferPointer(rebasing: info[0..<end]), offset: unit.dieOffset)
    }

    mutating func walkUnit() {
        let code = cursor.uleb()
        let index = table.index(of: code)
        guard !cursor.failed, code != 0, index >= 0 else { return }
        let abbreviation = table.abbreviations[index]
        _ = reader.readAttributes(abbreviation, table, &cursor, unit.format, collect: false)
        guard !cursor.failed, abbreviation.hasChildren else { return }
        walkChildren(parent: -1, depth: 0, level: 1)
    }

    /// Reads the siblings from the cursor to their terminating null entry.
    private mutating func walkChildren(parent: Int32, depth: Int32, level: Int) {
        while true {
            let dieOffset = cursor.offset
            let code = cursor.uleb()
            if cursor.failed || code == 0 { return }
            let index = table.index(of: code)
            guard index >= 0 else {
                cursor.failed = true
                return
            }
            let abbreviation = table.abbreviations[index]
            switch abbreviation.tag {
            case DW.tagSubprogram, DW.tagInlinedSubroutine:
                let inlined = abbreviation.tag == DW.tagInlinedSubroutine
                let attributes = reader.readAttributes(abbreviation, table, &cursor, unit.format, collect: true)
                if cursor.failed { return }
                let node = Int32(truncatingIfNeeded: nodes.count)
                // Only non-empty ranges are appended: none means nothing was.
                let any = Self.appendRanges(reader, attributes, unit, node: node, depth: depth, to: &intervals)
                guard any else {
                    // Declarations and abstract instances have no code (nor do their children).
                    if abbreviation.hasChildren { skipChildren(dieOffset: dieOffset, sibling: attributes.sibling) }
                    continue
                }
                var scope = DWARFIndex.ScopeNode(
                    dieOffset: UInt64(dieOffset), parent: inlined ? parent : -1, isInlined: inlined,
                    callFile: 0, callLine: 0, callColumn: 0)
                if inlined {
                    scope.callFile = UInt32(truncatingIfNeeded: attributes.callFile.flatMap(reader.constant) ?? 0)
                    scope.callLine = UInt32(truncatingIfNeeded: attributes.callLine.flatMap(reader.constant) ?? 0)
                    scope.callColumn = UInt32(truncatingIfNeeded: attributes.callColumn.flatMap(reader.constant) ?? 0)
                }
                nodes.append(scope)
                if abbreviation.hasChildren {
                    if level < DWARFReader.maximumDepth {
                        walkChildren(parent: node, depth: depth + 1, level: level + 1)
                    } else {
                        skipChildren(dieOffset: dieOffset, sibling: attributes.sibling)
                    }
                }
            case DW.tagLexicalBlock, DW.tagTryBlock, DW.tagCatchBlock, DW.tagWithStmt, DW.tagNamespace,
                 DW.tagModule, DW.tagClassType, DW.tagStructureType, DW.tagUnionType, DW.tagEntryPoint,
                 DW.tagCommonBlock:
                let attributes = reader.readAttributes(
                    abbreviation, table, &cursor, unit.format, collect: abbreviation.hasChildren)
                if cursor.failed { return }
                if abbreviation.hasChildren {
                    if level < DWARFReader.maximumDepth {
                        walkChildren(parent: parent, depth: depth, level: level + 1)
                    } else {
                        skipChildren(dieOffset: dieOffset, sibling: attributes.sibling)
                    }
                }
            default:
                let attributes = reader.readAttributes(
                    abbreviation, table, &cursor, unit.format, collect: abbreviation.hasChildren)
                if cursor.failed { return }
                if abbreviation.hasChildren { skipChildren(dieOffset: dieOffset, sibling: attributes.sibling) }
            }
            if cursor.failed { return }
        }
    }

    private static func appendRanges(
        _ reader: DWARFReader, _ attributes: DWARFDIEAttributes, _ unit: DWARFUnit, node: Int32, depth: Int32,
        to intervals: inout [DWARFIndex.Interval]
    ) -> Bool {
        reader.forEachRange(attributes, unit) { low, high in
            intervals.append(DWARFIndex.Interval(low: low, high: high, node: node, depth: depth))
        }
    }

    /// Moves the cursor past the children of the DIE at `dieOffset` (whose attributes it has
    /// read): to its `DW_AT_sibling` when that points forward inside the unit, else DIE by DIE.
    private mutating func skipChildren(dieOffset: Int, sibling: DWARFValue?) {
        if let target = sibling.flatMap({ reader.reference($0, unit) }), target > cursor.offset,
           target < cursor.bytes.count
        {
            cursor.offset = target
            return
        }
        var level = 1
        while level > 0 {
            let childOffset = cursor.offset
            let code = cursor.uleb()
            if cursor.failed { return }
            if code == 0 {
                level -= 1
                continue
            }
            let index = table.index(of: code)
            guard index >= 0 else {
                cursor.failed = true
                return
            }
            let abbreviation = table.abbreviations[index]
            let attributes = reader.readAttributes(
                abbreviation, table, &cursor, unit.format, collect: abbreviation.hasChildren)
            if cursor.failed { return }
            guard abbreviation.hasChildren else { continue }
            if let target = attributes.sibling.flatMap({ reader.reference($0, unit) }), target > childOffset,
               target >= cursor.offset, target < cursor.bytes.count
            {
                cursor.offset = target
            } else {
                level += 1
            }
        }
    }
}
