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
        /// Where the name starts in `NameBytes`' offsets: the string tables, then the pool.
        var nameOffset: UInt32
        var nameLength: UInt32
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
        struct Candidate {
            var start: UInt64
            var size: UInt64
            var sectionEnd: UInt64
            var rank: UInt8
            var underscores: Int
            var order: Int
            var name: UnsafePointer<CChar>
            var nameLength: Int
        }
        var candidates = [Candidate]()
        let anySymtab = images.contains { $0.sections.contains { $0.type == UInt32(SHT_SYMTAB) } }
        let wantedTypes: Set<UInt32> = aliases == .llvmSymbolizer
            ? [anySymtab ? UInt32(SHT_SYMTAB) : UInt32(SHT_DYNSYM)]
            : [UInt32(SHT_SYMTAB), UInt32(SHT_DYNSYM)]
        /// Where a section starts and ends in the address space.
        struct Span { var start: UInt64; var end: UInt64 }
        for image in images {
            // By section index (`st_shndx`); the first section of an index wins.
            var spans = [Span?](repeating: nil, count: (image.sections.map(\.index).max() ?? -1) + 1)
            for section in image.sections.reversed() where section.index >= 0 {
                spans[section.index] = Span(start: section.address, end: section.address &+ section.size)
            }
            for table in image.sections where wantedTypes.contains(table.type) {
                guard table.entrySize > 0, let scn = elf_getscn(image.elf, table.index),
                      let data = elf_getdata(scn, nil)
                else { continue }
                let count = Int(clamping: min(table.size, UInt64(data.pointee.d_size)) / table.entrySize)
                candidates.reserveCapacity(candidates.count + count)
                let stringTable = Int(table.link)
                var sym = GElf_Sym()
                for index in 0..<count {
                    guard gelf_getsym(data, Int32(clamping: index), &sym) != nil else { continue }
                    let type = sym.st_info & 0xf
                    let binding = sym.st_info >> 4
                    guard type == UInt8(STT_FUNC) || type == UInt8(STT_GNU_IFUNC),
                          sym.st_value != 0,
                          sym.st_shndx != UInt16(SHN_UNDEF), sym.st_shndx < UInt16(SHN_LORESERVE),
                          sym.st_name != 0,
                          let name = elf_strptr(image.elf, stringTable, Int(sym.st_name))
                    else { continue }
                    let length = strlen(name)
                    guard length > 0 else { continue }
                    let rank: UInt8 = switch Int32(binding) {
                    case STB_GLOBAL, STB_GNU_UNIQUE: 0
                    case STB_WEAK: 1
                    default: 2
                    }
                    var sectionEnd = UInt64.max
                    if Int(sym.st_shndx) < spans.count, let span = spans[Int(sym.st_shndx)],
                       sym.st_value >= span.start, span.end != span.start {
                        sectionEnd = span.end
                    }
                    var underscores = 0
                    while underscores < length, name[underscores] == 0x5F { underscores += 1 }
                    candidates.append(Candidate(
                        start: sym.st_value, size: sym.st_size, sectionEnd: sectionEnd,
                        rank: rank, underscores: underscores, order: candidates.count,
                        name: UnsafePointer(name), nameLength: length))
                }
            }
        }

        // PLT slots have no symbols; name them `callee@plt` from .rela.plt, as perf does (x86_64).
        var pltNames: [UnsafeMutablePointer<CChar>] = []
        defer { for name in pltNames { free(name) } }
        do {
            for image in images where image.machine == UInt16(EM_X86_64) {
                for slot in Self.pltSlots(of: image) {
                    guard let name = strdup(slot.name.isEmpty ? "[plt]" : slot.name + "@plt") else { continue }
                    pltNames.append(name)
                    candidates.append(Candidate(start: slot.address, size: 16, sectionEnd: slot.sectionEnd, rank: 2,
                                                underscores: 0, order: candidates.count, name: UnsafePointer(name),
                                                nameLength: strlen(name)))
                }
            }
        }

        // Sorted by address through a small key (sorting the candidates themselves moves
        // five times the bytes); the candidates at one address are compared after.
        var byStart = [(start: UInt64, candidate: Int)]()
        byStart.reserveCapacity(candidates.count)
        for (index, candidate) in candidates.enumerated() { byStart.append((candidate.start, index)) }
        byStart.sort { a, b in a.start != b.start ? a.start < b.start : a.candidate < b.candidate }
        /// Whether `a` names an address rather than `b` (`b` is later in the file's order).
        func preferred(_ a: Candidate, over b: Candidate) -> Bool {
            if aliases == .llvmSymbolizer { return a.size != b.size ? a.size > b.size : a.order > b.order }
            if a.rank != b.rank { return a.rank < b.rank }
            if a.underscores != b.underscores { return a.underscores < b.underscores }
            return a.nameLength > b.nameLength
        }

        // The string tables the names are in, each given a range of offsets.
        var tables: [StringTable] = []
        var nextOffset: UInt64 = 0
        for image in images {
            for table in image.sections where wantedTypes.contains(table.type) {
                guard let scn = elf_getscn(image.elf, Int(table.link)), let data = elf_getdata(scn, nil),
                      let base = data.pointee.d_buf, data.pointee.d_size > 0,
                      nextOffset + UInt64(data.pointee.d_size) <= UInt64(UInt32.max),
                      !tables.contains(where: { $0.bytes.baseAddress == UnsafePointer(base.assumingMemoryBound(to: UInt8.self)) })
                else { continue }
                let bytes = UnsafeBufferPointer(start: UnsafePointer(base.assumingMemoryBound(to: UInt8.self)),
                                                count: data.pointee.d_size)
                tables.append(StringTable(offset: UInt32(nextOffset), bytes: bytes))
                nextOffset += UInt64(data.pointee.d_size)
            }
        }
        let poolOffset = UInt32(nextOffset)
        /// The offset of a name found by `elf_strptr`: in its string table, else copied to the pool.
        func offset(of name: UnsafePointer<CChar>, length: Int, pool: inout [UInt8]) -> UInt32? {
            let address = UnsafeRawPointer(name)
            for table in tables {
                let base = UnsafeRawPointer(table.bytes.baseAddress!)
                if address >= base, address + length < base + table.bytes.count { // the NUL inside too
                    return table.offset + UInt32(address - base)
                }
            }
            guard let offset = UInt32(exactly: UInt64(poolOffset) + UInt64(pool.count)),
                  UInt32(exactly: UInt64(offset) + UInt64(length)) != nil
            else { return nil }
            name.withMemoryRebound(to: UInt8.self, capacity: length) {
                pool.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
            }
            return offset
        }

        var entries = [Entry]()
        entries.reserveCapacity(candidates.count)
        var pool = [UInt8]()
        var sectionEnds = [UInt64]()
        var index = 0
        while index < byStart.count {
            var best = candidates[byStart[index].candidate]
            var size = best.size
            var next = index + 1
            while next < byStart.count, byStart[next].start == best.start {
                let other = candidates[byStart[next].candidate]
                if preferred(other, over: best) { best = other }
                size = max(size, other.size)
                next += 1
            }
            index = next
            guard let length = UInt32(exactly: best.nameLength),
                  let offset = offset(of: best.name, length: best.nameLength, pool: &pool)
            else { break }
            let end = size > 0 ? best.start &+ size : 0 // 0: fixed up below
            entries.append(Entry(start: best.start, end: end, nameOffset: offset, nameLength: length))
            sectionEnds.append(best.sectionEnd)
        }
        // Zero-size symbols extend to the next symbol, but not past the end of their section.
        for i in entries.indices where entries[i].end == 0 {
            let nextStart = i + 1 < entries.count ? entries[i + 1].start : UInt64.max
            var end = min(nextStart, sectionEnds[i])
            if end == UInt64.max || end <= entries[i].start { end = entries[i].start &+ 1 }
            entries[i].end = end
        }
        self.entries = entries
        self.images = images
        self.stringTables = tables
        self.namePool = pool
        self.poolOffset = poolOffset
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

    /// The address of the symbol called `name`, or `nil`. Only symbols kept after collapsing
    /// aliases are found. A linear scan: meant for tools and tests, not for the per-sample path.
    public func address(ofSymbolNamed name: String) -> UInt64? {
        let wanted = Array(name.utf8)
        for entry in entries where Int(entry.nameLength) == wanted.count {
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
        let length = Int(entry.nameLength)
        if entry.nameOffset >= poolOffset {
            let start = Int(entry.nameOffset - poolOffset)
            return namePool.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<start + length])) }
        }
        // The last table starting at or before the offset holds it (tables are few: a linear scan).
        var table = stringTables[0]
        for candidate in stringTables.dropFirst() where candidate.offset <= entry.nameOffset { table = candidate }
        let start = Int(entry.nameOffset - table.offset)
        return body(UnsafeBufferPointer(rebasing: table.bytes[start..<start + length]))
    }
}
