import CElfutils
import Glibc

/// The function symbols of one ELF image, sorted by address, for address → name lookup.
///
/// Built once per image from `.symtab` and `.dynsym` (both are read; duplicates collapse).
/// Only `STT_FUNC` and `STT_GNU_IFUNC` symbols that are defined and have a nonzero address are
/// kept. Where several symbols share an address one is kept (see `AliasPolicy`); by default as
/// perf chooses: `GLOBAL` (or
/// `GNU_UNIQUE`) beats `WEAK` beats `LOCAL`, then fewer leading underscores (`malloc` over
/// `__libc_malloc`), then the longest name. A symbol with `st_size == 0` extends to
/// the next symbol (bounded by the end of its section).
///
/// Names are not copied: each entry points into its image's string table, read in place in the
/// image's read-only mapping (which the table keeps open), and a `String` is only created by
/// `lookup`. A table of a compiler's hundreds of thousands of symbols costs one array, not a
/// copy of its tens of megabytes of names. (A symbolizer may drop the mapping's pages from
/// memory after building the table: they are read back from the file when a name is needed.)
/// The few names made here (PLT entries) are kept in a small pool.
///
/// `@unchecked Sendable`: after `init` the table only reads the bytes of read-only mappings
/// (no libelf call), and the images it keeps only hold those mappings open.
public struct SymbolTable: @unchecked Sendable {
    private struct Entry: Sendable {
        var start: UInt64
        var end: UInt64
        /// Where the NUL-terminated name starts in the names' offsets: the string tables, then the pool.
        var nameOffset: UInt32
    }

    /// One image string table, read in place, at `offset` in the names' offsets.
    private struct StringTable {
        var offset: UInt32
        var bytes: UnsafeBufferPointer<UInt8>
    }

    private var entries: [Entry] = []
    /// The images whose mappings `stringTables` point into.
    private var images: [ELFImage] = []
    /// Sorted by `offset`, the first at 0.
    private var stringTables: [StringTable] = []
    /// Names not in a string table, at `poolOffset` in the names' offsets.
    private var namePool: [UInt8] = []
    private var poolOffset: UInt32 = 0

    /// The number of symbols in the table.
    public var count: Int { entries.count }

    /// Whether the table has no symbols (e.g. a fully stripped image).
    public var isEmpty: Bool { entries.isEmpty }

    /// An empty table.
    public init() {}

    /// Which of several symbols at one address names it.
    public enum AliasPolicy: Sendable {
        /// perf's choice: `GLOBAL` over `WEAK` over `LOCAL`, then fewer leading underscores,
        /// then the longest name. Reads `.symtab` and `.dynsym`.
        case perf
        /// llvm-symbolizer's choice: the largest `st_size`, then the last in symbol-table
        /// order. Reads `.symtab`, or `.dynsym` only when no image has a `.symtab`.
        case llvmSymbolizer
    }

    /// Reads the function symbols of `image` from `.symtab` and `.dynsym`.
    public init(image: ELFImage) {
        self.init(images: [image])
    }

    /// Reads the function symbols of several images describing the same code, e.g. a stripped
    /// binary (its `.dynsym`) and its separate debug file (its `.symtab`, with local symbols).
    /// Symbols from all images are merged as if they came from one file.
    public init(images: [ELFImage], aliases: AliasPolicy = .perf) {
        let images = Array(images.prefix(Int(UInt8.max) + 1))  // a candidate names its image in a byte (callers pass one or two)
        let anySymtab = images.contains { $0.sections.contains { $0.type == UInt32(SHT_SYMTAB) } }
        let wantedTypes: Set<UInt32> = aliases == .llvmSymbolizer
            ? [anySymtab ? UInt32(SHT_SYMTAB) : UInt32(SHT_DYNSYM)]
            : [UInt32(SHT_SYMTAB), UInt32(SHT_DYNSYM)]

        // The string tables the names are in, each given a range of offsets (a table two
        // symbol tables share is listed once).
        var tables: [StringTable] = []
        var symbolTables: [(image: Int, section: ELFImage.Section, data: UnsafeMutablePointer<Elf_Data>, names: Int)] = []
        var nextOffset: UInt64 = 0
        for (imageIndex, image) in images.enumerated() {
            for table in image.sections where wantedTypes.contains(table.type) {
                guard table.entrySize > 0, let scn = elf_getscn(image.elf, table.index), let data = elf_getdata(scn, nil),
                      let names = image.sections.first(where: { $0.index == Int(table.link) }), names.type == UInt32(SHT_STRTAB),
                      let namesScn = elf_getscn(image.elf, names.index), let namesData = elf_getdata(namesScn, nil),
                      let base = namesData.pointee.d_buf, namesData.pointee.d_size > 0
                else { continue }
                let bytes = UnsafeBufferPointer(start: UnsafePointer(base.assumingMemoryBound(to: UInt8.self)), count: namesData.pointee.d_size)
                if let shared = tables.firstIndex(where: { $0.bytes.baseAddress == bytes.baseAddress }) {
                    symbolTables.append((imageIndex, table, data, shared))
                    continue
                }
                guard nextOffset + UInt64(bytes.count) <= UInt64(UInt32.max) else { continue }
                tables.append(StringTable(offset: UInt32(nextOffset), bytes: bytes))
                symbolTables.append((imageIndex, table, data, tables.count - 1))
                nextOffset += UInt64(bytes.count)
            }
        }
        let poolOffset = UInt32(nextOffset)

        /// A function symbol; where several share an address, the one named is chosen after the sort.
        struct Candidate {
            var start: UInt64
            var size: UInt64
            /// Where the name starts in the names' offsets (a string table's, or the pool's).
            var nameOffset: UInt32
            /// `st_shndx`: the section whose end bounds a zero-size symbol.
            var section: UInt16
            /// `GLOBAL`/`GNU_UNIQUE` 0, `WEAK` 1, `LOCAL` 2.
            var rank: UInt8
            var image: UInt8
        }
        var candidates = [Candidate]()
        candidates.reserveCapacity(symbolTables.reduce(0) { total, table in
            total + Int(clamping: min(table.section.size, UInt64(table.data.pointee.d_size)) / table.section.entrySize)
        })
        for (imageIndex, section, data, namesIndex) in symbolTables {
            let names = tables[namesIndex]
            // A name must end inside its table, as elf_strptr checks: for a table that ends in
            // NUL (every well-formed one) any offset in it does.
            let terminated = names.bytes.last == 0
            let count = Int(clamping: min(section.size, UInt64(data.pointee.d_size)) / section.entrySize)
            var sym = GElf_Sym()
            for index in 0..<count {
                guard gelf_getsym(data, Int32(clamping: index), &sym) != nil else { continue }
                let type = sym.st_info & 0xf
                guard type == UInt8(STT_FUNC) || type == UInt8(STT_GNU_IFUNC),
                      sym.st_value != 0,
                      sym.st_shndx != UInt16(SHN_UNDEF), sym.st_shndx < UInt16(SHN_LORESERVE),
                      sym.st_name != 0, Int(sym.st_name) < names.bytes.count,
                      names.bytes[Int(sym.st_name)] != 0
                else { continue }
                if !terminated {
                    let rest = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(names.bytes)[Int(sym.st_name)...])
                    guard memchr(rest.baseAddress!, 0, rest.count) != nil else { continue }
                }
                let rank: UInt8 = switch Int32(sym.st_info >> 4) {
                case STB_GLOBAL, STB_GNU_UNIQUE: 0
                case STB_WEAK: 1
                default: 2
                }
                candidates.append(Candidate(start: sym.st_value, size: sym.st_size, nameOffset: names.offset + sym.st_name,
                                            section: sym.st_shndx, rank: rank, image: UInt8(imageIndex)))
            }
        }

        // PLT slots have no symbols; name them `callee@plt` from .rela.plt, as perf does (x86_64),
        // in the pool (each name with its NUL, as in a string table).
        var pool = [UInt8]()
        var pltSectionEnds: [Int: UInt64] = [:]  // by candidate
        for (imageIndex, image) in images.enumerated() where image.machine == UInt16(EM_X86_64) {
            for slot in Self.pltSlots(of: image) {
                let name = slot.name.isEmpty ? "[plt]" : slot.name + "@plt"
                guard let offset = UInt32(exactly: UInt64(poolOffset) + UInt64(pool.count)),
                      UInt32(exactly: UInt64(offset) + UInt64(name.utf8.count) + 1) != nil else { break }
                pool.append(contentsOf: name.utf8)
                pool.append(0)
                pltSectionEnds[candidates.count] = slot.sectionEnd
                candidates.append(Candidate(start: slot.address, size: 16, nameOffset: offset, section: 0, rank: 2,
                                            image: UInt8(imageIndex)))
            }
        }

        // Where each image's sections end, by section index (the first section of an index wins).
        let sectionSpans: [[(start: UInt64, end: UInt64)?]] = images.map { image in
            var spans = [(start: UInt64, end: UInt64)?](repeating: nil, count: (image.sections.map(\.index).max() ?? -1) + 1)
            for section in image.sections.reversed() where section.index >= 0 {
                spans[section.index] = (section.address, section.address &+ section.size)
            }
            return spans
        }
        /// Where the section of a symbol ends (`UInt64.max`: unknown), for a zero-size symbol.
        func sectionEnd(_ position: Int, _ candidate: Candidate) -> UInt64 {
            if let end = pltSectionEnds[position] { return end }
            let spans = sectionSpans[Int(candidate.image)]
            guard Int(candidate.section) < spans.count, let span = spans[Int(candidate.section)],
                  candidate.start >= span.start, span.end != span.start else { return .max }
            return span.end
        }

        /// A candidate's name's leading underscores (none counted for the PLT's) and length.
        func nameShape(_ candidate: Candidate) -> (underscores: Int, length: Int) {
            Self.withNameBytes(at: candidate.nameOffset, tables: tables, pool: pool, poolOffset: poolOffset) { name in
                (candidate.nameOffset >= poolOffset ? 0 : name.prefix { $0 == 0x5F }.count, name.count)
            }
        }
        /// Whether `a` names an address rather than `b` (`b` is earlier in the file's order).
        func preferred(_ a: (position: Int, candidate: Candidate), over b: (position: Int, candidate: Candidate)) -> Bool {
            if aliases == .llvmSymbolizer {
                return a.candidate.size != b.candidate.size ? a.candidate.size > b.candidate.size : a.position > b.position
            }
            if a.candidate.rank != b.candidate.rank { return a.candidate.rank < b.candidate.rank }
            let aName = nameShape(a.candidate), bName = nameShape(b.candidate)
            if aName.underscores != bName.underscores { return aName.underscores < bName.underscores }
            return aName.length > bName.length
        }

        var entries = [Entry]()
        entries.reserveCapacity(candidates.count)
        /// The entries of zero-size symbols, with where their section ends.
        var zeroSize: [(entry: Int, sectionEnd: UInt64)] = []
        let order = Self.orderByStart(count: candidates.count) { candidates[$0].start }
        var index = 0
        while index < order.count {
            var best = (position: Int(order[index]), candidate: candidates[Int(order[index])])
            var size = best.candidate.size
            var next = index + 1
            while next < order.count, candidates[Int(order[next])].start == best.candidate.start {
                let other = (position: Int(order[next]), candidate: candidates[Int(order[next])])
                if preferred(other, over: best) { best = other }
                size = max(size, other.candidate.size)
                next += 1
            }
            index = next
            let start = best.candidate.start, end = start &+ size
            // A size that wraps to address 0 is as unknown as none.
            if size == 0 || end == 0 { zeroSize.append((entries.count, sectionEnd(best.position, best.candidate))) }
            entries.append(Entry(start: start, end: end, nameOffset: best.candidate.nameOffset))
        }
        // Zero-size symbols extend to the next symbol, but not past the end of their section.
        for (i, sectionEnd) in zeroSize {
            let nextStart = i + 1 < entries.count ? entries[i + 1].start : UInt64.max
            var end = min(nextStart, sectionEnd)
            if end == UInt64.max || end <= entries[i].start { end = entries[i].start &+ 1 }
            entries[i].end = end
        }
        self.entries = entries
        self.images = images
        self.stringTables = tables
        self.namePool = pool
        self.poolOffset = poolOffset
    }

    /// The positions `0..<count` in ascending order of `start(position)`, equal starts in
    /// their order. Sorted as one integer each (start above, position below) when the starts'
    /// range leaves room for the position, as it does in any one binary; else as pairs.
    static func orderByStart(count: Int, _ start: (Int) -> UInt64) -> [Int32] {
        guard count > 0, count <= Int(Int32.max) else { return [] }
        var lowest = UInt64.max, highest = UInt64.min
        for position in 0..<count {
            lowest = min(lowest, start(position))
            highest = max(highest, start(position))
        }
        let positionBits = UInt64.bitWidth - UInt64(count - 1).leadingZeroBitCount
        if (highest - lowest).leadingZeroBitCount >= positionBits {
            var keys = [UInt64](unsafeUninitializedCapacity: count) { keys, initialized in
                for position in 0..<count { keys[position] = (start(position) - lowest) << positionBits | UInt64(position) }
                initialized = count
            }
            keys.sort()
            let mask = (UInt64(1) << positionBits) &- 1
            return keys.map { Int32(truncatingIfNeeded: $0 & mask) }
        }
        var pairs = (0..<count).map { (start: start($0), position: Int32(truncatingIfNeeded: $0)) }
        pairs.sort { a, b in a.start != b.start ? a.start < b.start : a.position < b.position }
        return pairs.map(\.position)
    }

    /// Calls `body` with the bytes of the NUL-terminated name at `offset` in the names' offsets
    /// (without the NUL; up to the end of its table when a damaged table has none after it).
    private static func withNameBytes<Result>(
        at offset: UInt32, tables: [StringTable], pool: [UInt8], poolOffset: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        func untilNUL(_ rest: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
            guard let base = rest.baseAddress, let nul = memchr(base, 0, rest.count) else { return rest }
            return UnsafeBufferPointer(start: base, count: UnsafeRawPointer(nul) - UnsafeRawPointer(base))
        }
        if offset >= poolOffset {
            return pool.withUnsafeBufferPointer { body(untilNUL(UnsafeBufferPointer(rebasing: $0[Int(offset - poolOffset)...]))) }
        }
        // The last table starting at or before the offset holds it (tables are few: a linear scan).
        var table = tables[0]
        for candidate in tables.dropFirst() where candidate.offset <= offset { table = candidate }
        return body(untilNUL(UnsafeBufferPointer(rebasing: table.bytes[Int(offset - table.offset)...])))
    }

    /// The function containing `vaddr` (a link-time virtual address, see
    /// `ELFImage.virtualAddress(forFileOffset:)`), or `nil` when no symbol covers it.
    /// The PLT entries of an x86_64 image: each `.rela.plt` relocation's slot in `.plt.sec`
    /// (IBT binaries) or `.plt` (after the 16-byte header), named by the relocated symbol.
    static func pltSlots(of image: ELFImage) -> [(address: UInt64, sectionEnd: UInt64, name: String)] {
        guard let relocations = image.section(named: ".rela.plt"), relocations.entrySize > 0,
              let plt = image.section(named: ".plt.sec") ?? image.section(named: ".plt"),
              let dynsym = image.sections.first(where: { $0.index == Int(relocations.link) }),
              let relocationSection = elf_getscn(image.elf, relocations.index), let relocationData = elf_getdata(relocationSection, nil),
              let symbolSection = elf_getscn(image.elf, dynsym.index), let symbolData = elf_getdata(symbolSection, nil)
        else { return [] }
        // Addresses and sizes are the file's: a section reaching past 2^64 is no PLT.
        guard let pltEnd = Self.end(of: plt),
              let first = plt.name == ".plt.sec" ? plt.address : Self.checkedSum(plt.address, 16)
        else { return [] }
        let count = Int(clamping: relocations.size / relocations.entrySize)
        var slots: [(UInt64, UInt64, String)] = []
        // The lazy-binding header (PLT0) before the first entry: named "[plt]" (empty name here).
        if let header = image.section(named: ".plt"), header.size >= 16, let headerEnd = Self.end(of: header) {
            slots.append((header.address, headerEnd, ""))
        }
        var relocation = GElf_Rela()
        var symbol = GElf_Sym()
        for index in 0..<count {
            // Past the section's data (its size field may say anything): no more relocations.
            guard gelf_getrela(relocationData, Int32(clamping: index), &relocation) != nil else { break }
            let symbolIndex = Int32(truncatingIfNeeded: relocation.r_info >> 32)
            guard gelf_getsym(symbolData, symbolIndex, &symbol) != nil, symbol.st_name != 0,
                  let name = elf_strptr(image.elf, Int(dynsym.link), Int(symbol.st_name)) else { continue }
            // The loop ends (below) before index * 16 could wrap: once past the PLT's end.
            guard let address = Self.checkedSum(first, UInt64(index) &* 16), let slotEnd = Self.checkedSum(address, 16),
                  slotEnd <= pltEnd else { break }
            slots.append((address, pltEnd, String(cString: name)))
        }
        return slots
    }

    /// `a + b`, or `nil` where that passes 2^64.
    private static func checkedSum(_ a: UInt64, _ b: UInt64) -> UInt64? {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }

    /// Where `section` ends in the address space, or `nil` when its address and size pass 2^64.
    private static func end(of section: ELFImage.Section) -> UInt64? { checkedSum(section.address, section.size) }

    public func lookup(_ vaddr: UInt64) -> (name: String, start: UInt64, size: UInt64)? {
        guard let index = index(containing: vaddr) else { return nil }
        let entry = entries[index]
        return (name(of: entry), entry.start, entry.end - entry.start)
    }

    /// The position (in `0..<count`) of the symbol containing `vaddr`, or `nil`: lets callers
    /// cache per symbol (e.g. demangled names) without creating the name string.
    public func index(containing vaddr: UInt64) -> Int? {
        // Binary search for the last entry whose start <= vaddr.
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].start <= vaddr { low = mid + 1 } else { high = mid }
        }
        guard low > 0, vaddr < entries[low - 1].end else { return nil }
        return low - 1
    }

    /// The name of the symbol at `index` (from `index(containing:)`).
    public func name(atIndex index: Int) -> String {
        name(of: entries[index])
    }

    /// Calls `body` with the bytes of the name of the symbol at `index`, where they are kept
    /// (no `String` is made).
    func withName<Result>(atIndex index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        withNameBytes(of: entries[index], body)
    }

    /// The address of the symbol called `name`, or `nil`. Only symbols kept after collapsing
    /// aliases are found. A linear scan: meant for tools and tests, not for the per-sample path.
    public func address(ofSymbolNamed name: String) -> UInt64? {
        let wanted = Array(name.utf8)
        for entry in entries {
            let found = withNameBytes(of: entry) { $0.elementsEqual(wanted) }
            if found { return entry.start }
        }
        return nil
    }

    private func name(of entry: Entry) -> String {
        withNameBytes(of: entry) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the bytes of `entry`'s name, where they are kept.
    private func withNameBytes<Result>(of entry: Entry, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        Self.withNameBytes(at: entry.nameOffset, tables: stringTables, pool: namePool, poolOffset: poolOffset, body)
    }
}
