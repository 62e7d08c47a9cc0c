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
    let dwarf: OpaquePointer

    final class Unit {
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

    var ranges: [CURange] = []
    var units: [Unit] = []
    var fileNames: [Int: String] = [:]

    /// The number of compile units with code.
    var unitCount: Int { units.count }

    /// Opens the DWARF of `image`; `nil` when it has none libdw can read, or no unit with code.
    ///
    /// Once `dwarf` is stored the object is fully initialized, so a `return nil` after that
    /// still runs `deinit`: `deinit` is the one owner of the handle and the only `dwarf_end`.
    init?(image: ELFImage) {
        guard let dwarf = dwarf_begin_elf(image.elf, DWARF_C_READ, nil) else { return nil }
        self.image = image
        self.dwarf = dwarf
        buildUnitIndex()
        if units.isEmpty { return nil }  // deinit ends `dwarf`
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
}
