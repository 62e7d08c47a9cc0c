import CElfutils
import Glibc

/// One frame as DWARF describes it, before demangling: innermost (inlined) frames first.
struct DWARFFrame {
    /// The subprogram or inlined-subroutine DIE (see `DWARFIndex.name(ofDIE:)`); `nil` when
    /// no DIE covers the address.
    var die: UInt64?
    /// The source file; `nil` when the line table (or the call site) gave none.
    var file: String?
    var line: Int
    var column: Int
    var isInlined: Bool
}

/// The DWARF of one ELF image, read with libdw and indexed for fast address lookups.
///
/// libdw 0.188's own address lookups (`dwarf_addrdie`, `dwfl_module_getsrc`) rely on
/// `.debug_aranges`, which clang and swiftc do not emit; `dwarf_getscopes` per address is slow.
/// So this builds:
/// - once per image: a sorted index of compile-unit ranges (`DW_AT_ranges` / `low_pc`/`high_pc`
///   of every CU DIE);
/// - lazily per CU on its first hit (or ahead, for a batch, on two threads: `preload`):
///   the line table (`dwarf_getsrclines`, kept as libdw sorted
///   it and binary-searched) and a partition of the CU's addresses into segments, each naming
///   the innermost `DW_TAG_subprogram` / `DW_TAG_inlined_subroutine` covering it, with the
///   scope tree's parent links and call sites.
///
/// A lookup is then a binary search for the CU, one for the scope segment, one in the line
/// table, and a walk up the (short) inline chain.
///
/// libdw handles are not thread-safe: confine an index to one thread or actor.
final class DWARFIndex {
    /// The image whose DWARF this is (kept alive for the `Elf` handle).
    let image: ELFImage
    private let dwarf: OpaquePointer

    private struct CURange {
        var low: UInt64
        var high: UInt64
        var unit: Int32
    }

    private struct ScopeNode {
        var dieOffset: UInt64
        var parent: Int32
        var isInlined: Bool
        var callFile: UInt32
        var callLine: UInt32
        var callColumn: UInt32
    }

    /// A CU's scope tree and its partition into innermost-scope segments: plain arrays, so a
    /// second thread with its own libdw handle can build them.
    private struct Scopes {
        var nodes: [ScopeNode] = []
        /// Segment `i` covers `[segmentStarts[i], segmentStarts[i + 1])` and is innermost
        /// scope `segmentNodes[i]` (`-1`: none).
        var segmentStarts: [UInt64] = []
        var segmentNodes: [Int32] = []
    }

    private final class Unit {
        var die: Dwarf_Die
        var linesLoaded = false
        var lines: OpaquePointer?
        var lineCount = 0
        var files: OpaquePointer?
        var fileCount = 0
        var compilationDirectory: String?
        /// Built on the unit's first lookup (or ahead, by `preload`).
        var scopes: Scopes?

        init(die: Dwarf_Die) { self.die = die }
    }

    private var ranges: [CURange] = []
    private var units: [Unit] = []
    private var fileNames: [Int: String] = [:]

    /// The number of compile units with code.
    var unitCount: Int { units.count }

    /// Opens the DWARF of `image`; `nil` when it has none libdw can read.
    init?(image: ELFImage) {
        guard let dwarf = dwarf_begin_elf(image.elf, DWARF_C_READ, nil) else { return nil }
        self.image = image
        self.dwarf = dwarf
        buildUnitIndex()
        if units.isEmpty {
            dwarf_end(dwarf)
            return nil
        }
    }

    deinit {
        dwarf_end(dwarf)
    }

    /// Whether `image` has DWARF debug information (a `.debug_info` with contents).
    static func hasDWARF(_ image: ELFImage) -> Bool {
        image.sections.contains {
            ($0.name == ".debug_info" || $0.name == ".zdebug_info") && $0.type != UInt32(SHT_NOBITS)
                && $0.size > 0
        }
    }

    // MARK: - CU index

    private func buildUnitIndex() {
        var cu: OpaquePointer? = nil
        var next: OpaquePointer? = nil
        var version: Dwarf_Half = 0
        var unitType: UInt8 = 0
        var cudie = Dwarf_Die()
        var subdie = Dwarf_Die()
        while dwarf_get_units(dwarf, cu, &next, &version, &unitType, &cudie, &subdie) == 0 {
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

    private func unit(containing address: UInt64) -> Unit? {
        unitIndex(containing: address).map { units[$0] }
    }

    private func unitIndex(containing address: UInt64) -> Int? {
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

    // MARK: - Lookup

    /// The frames at `address` (a link-time virtual address), innermost first; `nil` when no
    /// compile unit covers it. A covered address without a subprogram DIE yields one frame
    /// with a `nil` name (and the line table's position).
    func frames(at address: UInt64) -> [DWARFFrame]? {
        guard let unit = unit(containing: address) else { return nil }
        loadLines(unit)
        let scopes = loadScopes(unit)
        let position = lineRow(unit, address)
        var frames: [DWARFFrame] = []
        var node = scopeNode(scopes, address)
        var file = position?.file
        var line = position?.line ?? 0
        var column = position?.column ?? 0
        if node < 0 {
            guard position != nil else { return [] }
            return [DWARFFrame(die: nil, file: file, line: line, column: column, isInlined: false)]
        }
        while node >= 0 {
            let scope = scopes.nodes[Int(node)]
            frames.append(DWARFFrame(
                die: scope.dieOffset, file: file, line: line, column: column, isInlined: scope.isInlined))
            guard scope.isInlined else { break }
            file = fileName(unit, index: Int(scope.callFile))
            line = Int(scope.callLine)
            column = Int(scope.callColumn)
            node = scope.parent
        }
        return frames
    }

    private func scopeNode(_ scopes: Scopes, _ address: UInt64) -> Int32 {
        let starts = scopes.segmentStarts
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) >> 1
            if starts[mid] <= address { low = mid + 1 } else { high = mid }
        }
        return low > 0 ? scopes.segmentNodes[low - 1] : -1
    }

    // MARK: - Line tables

    private func loadLines(_ unit: Unit) {
        guard !unit.linesLoaded else { return }
        unit.linesLoaded = true
        var lines: OpaquePointer? = nil
        var count = 0
        if dwarf_getsrclines(&unit.die, &lines, &count) == 0 {
            unit.lines = lines
            unit.lineCount = count
        }
        var files: OpaquePointer? = nil
        var fileCount = 0
        if dwarf_getsrcfiles(&unit.die, &files, &fileCount) == 0 {
            unit.files = files
            unit.fileCount = fileCount
        }
        var attribute = Dwarf_Attribute()
        if dwarf_attr(&unit.die, UInt32(DW_AT_comp_dir), &attribute) != nil, let dir = dwarf_formstring(&attribute) {
            unit.compilationDirectory = String(cString: dir)
        }
    }

    /// The last row at or before `address` (libdw sorts rows by address, end-of-sequence
    /// markers before ordinary rows at the same address), as llvm-symbolizer picks it.
    private func lineRow(_ unit: Unit, _ address: UInt64) -> (file: String?, line: Int, column: Int)? {
        guard let lines = unit.lines, unit.lineCount > 0 else { return nil }
        var low = 0
        var high = unit.lineCount
        var rowAddress: Dwarf_Addr = 0
        while low < high {
            let mid = (low + high) >> 1
            guard let row = dwarf_onesrcline(lines, mid), dwarf_lineaddr(row, &rowAddress) == 0 else { return nil }
            if rowAddress <= address { low = mid + 1 } else { high = mid }
        }
        guard low > 0, let row = dwarf_onesrcline(lines, low - 1) else { return nil }
        var endSequence = false
        if dwarf_lineendsequence(row, &endSequence) == 0, endSequence { return nil }
        var line: Int32 = 0
        var column: Int32 = 0
        _ = dwarf_lineno(row, &line)
        _ = dwarf_linecol(row, &column)
        var file: String? = nil
        if let source = dwarf_linesrc(row, nil, nil) { file = cachedFileName(unit, source) }
        return (file, Int(line), Int(column))
    }

    private func fileName(_ unit: Unit, index: Int) -> String? {
        guard let files = unit.files, index < unit.fileCount,
              let source = dwarf_filesrc(files, index, nil, nil)
        else { return nil }
        return cachedFileName(unit, source)
    }

    private func cachedFileName(_ unit: Unit, _ source: UnsafePointer<CChar>) -> String {
        let key = Int(bitPattern: source)
        if let known = fileNames[key] { return known }
        var name = String(cString: source)
        if !name.hasPrefix("/"), let dir = unit.compilationDirectory, !dir.isEmpty {
            name = dir + "/" + name
        }
        // Joined as llvm-symbolizer joins them: no doubled separators (libdw joins "/" and
        // "<compiler-generated>" into "//<compiler-generated>").
        if name.contains("//") {
            var collapsed = ""
            var previousSlash = false
            for character in name {
                if character == "/" && previousSlash { continue }
                previousSlash = character == "/"
                collapsed.append(character)
            }
            name = collapsed
        }
        fileNames[key] = name
        return name
    }

    // MARK: - Names

    /// The linkage name (following `DW_AT_abstract_origin` / `DW_AT_specification`), else
    /// `DW_AT_name`, of the DIE at `offset`. Not cached: callers cache what they make of it.
    func name(ofDIE offset: UInt64) -> String? {
        var die = Dwarf_Die()
        var result: String? = nil
        if dwarf_offdie(dwarf, offset, &die) != nil {
            var attribute = Dwarf_Attribute()
            for name in [DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name] {
                if dwarf_attr_integrate(&die, UInt32(name), &attribute) != nil,
                   let text = dwarf_formstring(&attribute)
                {
                    result = String(cString: text)
                    break
                }
            }
        }
        return result
    }

    // MARK: - Scope index

    private struct Interval {
        var low: UInt64
        var high: UInt64
        var node: Int32
        var depth: Int32
    }

    private func loadScopes(_ unit: Unit) -> Scopes {
        if let scopes = unit.scopes { return scopes }
        var die = unit.die
        let scopes = Self.scopes(ofUnit: &die)
        unit.scopes = scopes
        return scopes
    }

    /// Builds ahead what looking up `addresses` needs, on two threads: the background thread
    /// walks the inline scopes of every unit they fall in, through a second handle on the same
    /// file (the results are plain arrays), while this one reads their line tables (which stay
    /// libdw's). Worth it only for many units; otherwise each unit loads on its first lookup.
    func preload(for addresses: some Sequence<UInt64>) {
        var pending: [Int] = []
        var seen = Set<Int>()
        for address in addresses {
            if let index = unitIndex(containing: address), units[index].scopes == nil, seen.insert(index).inserted {
                pending.append(index)
            }
        }
        guard pending.count >= 16 else { return }
        let work = pending.map { (index: $0, offset: dwarf_dieoffset(&units[$0].die)) }
        let path = image.path
        let load = BackgroundLoad { () -> [(index: Int, scopes: Scopes)] in
            guard let image = try? ELFImage(path: path), let dwarf = dwarf_begin_elf(image.elf, DWARF_C_READ, nil)
            else { return [] }
            defer { dwarf_end(dwarf) }
            return work.compactMap { item in
                var die = Dwarf_Die()
                guard dwarf_offdie(dwarf, item.offset, &die) != nil else { return nil }
                return (item.index, DWARFIndex.scopes(ofUnit: &die))
            }
        }
        for index in pending { loadLines(units[index]) }
        for (index, scopes) in load.value where units[index].scopes == nil {
            units[index].scopes = scopes
        }
    }

    private static func scopes(ofUnit die: inout Dwarf_Die) -> Scopes {
        var scopes = Scopes()
        var intervals: [Interval] = []
        walk(&die, nodes: &scopes.nodes, parent: -1, depth: 0, intervals: &intervals)
        (scopes.segmentStarts, scopes.segmentNodes) = segments(intervals)
        return scopes
    }

    private static func walk(
        _ die: inout Dwarf_Die, nodes: inout [ScopeNode], parent: Int32, depth: Int32, intervals: inout [Interval]
    ) {
        var child = Dwarf_Die()
        guard dwarf_child(&die, &child) == 0 else { return }
        repeat {
            let tag = Int(dwarf_tag(&child))
            switch tag {
            case DW_TAG_subprogram, DW_TAG_inlined_subroutine:
                let inlined = tag == DW_TAG_inlined_subroutine
                let node = Int32(nodes.count)
                let any = forEachRange(of: &child) { intervals.append(Interval(low: $0, high: $1, node: node, depth: depth)) }
                // Declarations and abstract instances have no code (nor do their children).
                guard any else { continue }
                var scope = ScopeNode(
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
        } while Self.advance(&child)
    }

    /// Calls `body` with each non-empty address range `[low, high)` of `die` (`DW_AT_ranges`, or
    /// `low_pc`/`high_pc`); returns whether there was any.
    private static func forEachRange(of die: inout Dwarf_Die, _ body: (UInt64, UInt64) -> Void) -> Bool {
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

    /// Partitions the CU's covered addresses into segments naming the innermost scope: a sweep
    /// over interval boundaries with a max-heap of open intervals by (depth, node order).
    private static func segments(_ intervals: [Interval]) -> (starts: [UInt64], nodes: [Int32]) {
        guard !intervals.isEmpty else { return ([], []) }
        let sorted = intervals.sorted { $0.low < $1.low }
        var boundaries: [UInt64] = []
        boundaries.reserveCapacity(sorted.count * 2)
        for interval in sorted {
            boundaries.append(interval.low)
            boundaries.append(interval.high)
        }
        boundaries.sort()
        var heap = IntervalHeap()
        var next = 0
        var starts: [UInt64] = []
        var nodes: [Int32] = []
        var previous: UInt64? = nil
        for point in boundaries {
            if point == previous { continue }
            previous = point
            while next < sorted.count, sorted[next].low == point {
                heap.push(sorted[next])
                next += 1
            }
            while let top = heap.top, top.high <= point { heap.pop() }
            let node = heap.top?.node ?? -1
            if nodes.last != node {
                starts.append(point)
                nodes.append(node)
            }
        }
        return (starts, nodes)
    }

    /// A binary max-heap of intervals by (depth, node): the innermost, latest scope on top.
    private struct IntervalHeap {
        private var items: [Interval] = []

        var top: Interval? { items.first }

        private static func above(_ a: Interval, _ b: Interval) -> Bool {
            a.depth != b.depth ? a.depth > b.depth : a.node > b.node
        }

        mutating func push(_ item: Interval) {
            items.append(item)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.above(items[child], items[parent]) else { break }
                items.swapAt(child, parent)
                child = parent
            }
        }

        mutating func pop() {
            let last = items.removeLast()
            guard !items.isEmpty else { return }
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var best = parent
                if left < items.count, Self.above(items[left], items[best]) { best = left }
                if right < items.count, Self.above(items[right], items[best]) { best = right }
                if best == parent { break }
                items.swapAt(parent, best)
                parent = best
            }
        }
    }
}
