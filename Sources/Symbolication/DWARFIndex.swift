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

/// The DWARF of one ELF image, indexed for fast address lookups.
///
/// The sections are read natively (`DWARFReader`): the unit headers and unit DIEs once, then
/// lazily per unit on its first hit (or ahead, for a batch, on two threads: `preload`) the line
/// table (`DWARFLineProgram`, rows in the order libdw gives them) and a partition of the unit's
/// addresses into segments, each naming the innermost `DW_TAG_subprogram` /
/// `DW_TAG_inlined_subroutine` covering it, with the scope tree's parent links and call sites.
///
/// A lookup is then a binary search for the unit, one for the scope segment, one in the line
/// table, and a walk up the (short) inline chain.
///
/// libdw (`LibdwDWARF`) reads what the native reader leaves to it: whole images that are
/// big-endian, use a dwz alternate file, have a unit header or abbreviation table the reader
/// rejects or forms it does not read (supplementary-file forms, type-signature origins); and
/// single line tables whose entry formats name strings by index.
///
/// Not thread-safe (the caches): confine an index to one thread or actor.
final class DWARFIndex {
    /// The image whose DWARF this is (its sections back the reader).
    let image: ELFImage
    /// The native reader; `nil` when libdw reads the whole image.
    let reader: DWARFReader?
    /// libdw, opened on first need (always, when `reader` is `nil`).
    private var libdwHandle: LibdwDWARF?
    /// Whether opening libdw on the file failed (not tried again).
    private var libdwFailed = false

    final class Unit {
        /// The offset of the unit DIE in `.debug_info`.
        let dieOffset: UInt64
        /// The unit in `reader.units` (`-1` when libdw reads the image).
        let native: Int
        var linesLoaded = false
        var lines: DWARFLineTable?
        var compilationDirectory: String?
        /// File names by index, joined on first use.
        var fileNames: [String?] = []
        /// Built on the unit's first lookup (or ahead, by `preload`).
        var scopes: Scopes?

        init(dieOffset: UInt64, native: Int) {
            self.dieOffset = dieOffset
            self.native = native
        }
    }

    var ranges: [CURange] = []
    var units: [Unit] = []

    /// The number of compile units with code.
    var unitCount: Int { units.count }

    /// Whether the native reader reads this image (else libdw does).
    var readsNatively: Bool { reader != nil }

    /// Opens the DWARF of `image`; `nil` when it has none that can be read, or no unit with code.
    /// `libdwOnly` reads it all through libdw (what the native reader is checked against).
    convenience init?(image: ELFImage, libdwOnly: Bool = false) {
        self.init(image: image, reader: libdwOnly ? nil : try? DWARFReader(image: image))
    }

    /// Opens the DWARF of `image` as `reader` reads it, or through libdw when `reader` is `nil`.
    /// With a reader, nothing here calls libelf.
    init?(image: ELFImage, reader: DWARFReader?) {
        self.image = image
        self.reader = reader
        if let reader {
            buildUnitIndex(reader)
        } else {
            guard let libdw = LibdwDWARF(image: image) else { return nil }
            libdwHandle = libdw
            buildUnitIndex(libdw)
        }
        if units.isEmpty { return nil }
    }

    /// libdw on this image: for the whole image when the native reader declined it, else a
    /// handle of its own on the file (the native reader has decompressed sections in place).
    var libdw: LibdwDWARF? {
        if let libdwHandle { return libdwHandle }
        guard !libdwFailed else { return nil }
        libdwHandle = LibdwDWARF(path: image.path)
        libdwFailed = libdwHandle == nil
        return libdwHandle
    }

    /// Whether `image` has DWARF debug information (a `.debug_info` with contents).
    static func hasDWARF(_ image: ELFImage) -> Bool {
        image.sections.contains {
            ($0.name == ".debug_info" || $0.name == ".zdebug_info") && $0.type != 8  // SHT_NOBITS
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
        var steps = 0
        while node >= 0, Int(node) < scopes.nodes.count, steps < scopes.nodes.count {
            let scope = scopes.nodes[Int(node)]
            frames.append(DWARFFrame(
                die: scope.dieOffset, file: file, line: line, column: column, isInlined: scope.isInlined))
            guard scope.isInlined else { break }
            file = fileName(unit, index: Int(scope.callFile))
            line = Int(scope.callLine)
            column = Int(scope.callColumn)
            node = scope.parent
            steps += 1
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

    func loadScopes(_ unit: Unit) -> Scopes {
        if let scopes = unit.scopes { return scopes }
        let scopes: Scopes
        if let reader, unit.native >= 0 {
            scopes = reader.scopes(ofUnit: reader.units[unit.native])
        } else {
            scopes = libdw?.scopes(ofUnitAt: unit.dieOffset) ?? Scopes()
        }
        unit.scopes = scopes
        return scopes
    }

    // MARK: - Names

    /// The linkage name (following `DW_AT_abstract_origin` / `DW_AT_specification`), else
    /// `DW_AT_name`, of the DIE at `offset`. Not cached: callers cache what they make of it.
    func name(ofDIE offset: UInt64) -> String? {
        if let reader { return reader.name(ofDIE: offset) }
        return libdw?.name(ofDIE: offset)
    }
}
