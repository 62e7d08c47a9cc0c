/// Where the functions of an ELF image start and end, from the FDEs of its `.eh_frame`: each
/// FDE covers one function (`[initial location, initial location + address range)`), even in a
/// stripped file. What names code that no symbol covers (``UnnamedFunctions``).
///
/// Read from `.eh_frame_hdr`'s sorted search table when the file has one (each entry points
/// at its FDE, whose range is read there), else by walking `.eh_frame` from the start. Every
/// read is bounded by the section it is in and every sum checked: a malformed entry ends the
/// walk, the FDEs read before it are kept.
public struct FunctionBoundaries: Sendable {
    /// Function starts (link-time virtual addresses), ascending; `ends[i]` is where `starts[i]` ends.
    public private(set) var starts: [UInt64] = []
    public private(set) var ends: [UInt64] = []

    /// Which table the boundaries came from.
    public enum Source: Sendable, Equatable {
        /// `.eh_frame_hdr`'s binary-search table.
        case searchTable
        /// A walk over `.eh_frame`.
        case ehFrame
        /// The image has no usable `.eh_frame`.
        case none
    }
    public private(set) var source: Source = .none

    /// The number of functions.
    public var count: Int { starts.count }

    /// The boundaries of `image`'s functions; empty when it has no `.eh_frame`.
    public init(image: ELFImage) {
        guard let file = image.fileBytes, let layout = EHFrameLayout(image: image, file: file) else { return }
        let reader = EHFrameReader(file: file, layout: layout, is64Bit: image.is64Bit,
                                   littleEndian: image.isLittleEndian)
        var ranges: [(UInt64, UInt64)]
        if let table = reader.searchTableFDEs() {
            ranges = table
            source = .searchTable
        } else {
            ranges = reader.walkFDEs()
            source = .ehFrame
        }
        ranges.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 > $1.1 }
        starts.reserveCapacity(ranges.count)
        ends.reserveCapacity(ranges.count)
        for (start, end) in ranges where end > start {
            if let last = starts.last, last == start { continue }  // duplicates: the longest was sorted first
            starts.append(start)
            ends.append(end)
        }
    }

    /// The start of the function containing `address` (a link-time virtual address), or `nil`
    /// when no FDE covers it.
    public func functionStart(containing address: UInt64) -> UInt64? {
        var low = 0, high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0, address < ends[low - 1] else { return nil }
        return starts[low - 1]
    }
}

/// Where `.eh_frame_hdr` and `.eh_frame` are, in the file and in the address space.
struct EHFrameLayout {
    /// A piece of the file: its bytes' offset and size, and the address its first byte loads at.
    struct Region {
        var fileOffset: Int
        var size: Int
        var address: UInt64
    }
    var header: Region?
    var frames: Region

    /// From the section headers, else from `PT_GNU_EH_FRAME` (files stripped of their sections:
    /// `.eh_frame` then runs from where the header points to the end of its load segment).
    init?(image: ELFImage, file: UnsafeRawBufferPointer) {
        func region(_ section: ELFImage.Section?) -> Region? {
            guard let section, section.type != 8 /* SHT_NOBITS */, section.size > 0,
                  let offset = Int(exactly: section.fileOffset), let size = Int(exactly: section.size),
                  offset <= file.count, size <= file.count - offset else { return nil }
            return Region(fileOffset: offset, size: size, address: section.address)
        }
        let header = region(image.section(named: ".eh_frame_hdr"))
        if let frames = region(image.section(named: ".eh_frame")) {
            self.header = header
            self.frames = frames
            return
        }
        // No section table: the header's program header, and .eh_frame found through it.
        guard let segment = image.ehFrameHeaderSegment, let offset = Int(exactly: segment.fileOffset),
              let size = Int(exactly: segment.fileSize), offset <= file.count, size <= file.count - offset
        else { return nil }
        let headerRegion = Region(fileOffset: offset, size: size, address: segment.virtualAddress)
        let probe = EHFrameReader(file: file, layout: EHFrameLayout(header: headerRegion, frames: headerRegion),
                                  is64Bit: image.is64Bit, littleEndian: image.isLittleEndian)
        guard let framesAddress = probe.headerFramePointer(),
              let framesOffset = image.fileOffset(forVirtualAddress: framesAddress),
              let start = Int(exactly: framesOffset), start < file.count else { return nil }
        // Bounded by the load segment holding it (the file's end at the latest).
        var end = file.count
        for load in image.loadSegments where framesOffset >= load.fileOffset && framesOffset - load.fileOffset < load.fileSize {
            if let segmentEnd = Int(exactly: load.fileOffset &+ load.fileSize), segmentEnd <= file.count { end = segmentEnd }
        }
        self.header = headerRegion
        self.frames = Region(fileOffset: start, size: end - start, address: framesAddress)
    }

    init(header: Region?, frames: Region) {
        self.header = header
        self.frames = frames
    }
}

/// Bounded reads of `.eh_frame_hdr` and `.eh_frame` (the LSB's format: DWARF CFI with
/// pointer encodings).
struct EHFrameReader {
    let file: UnsafeRawBufferPointer
    let layout: EHFrameLayout
    let is64Bit: Bool
    let littleEndian: Bool

    /// At most this many FDEs are read (a corrupted count cannot make the table huge).
    static let maximumEntries = 4_000_000

    // MARK: .eh_frame_hdr

    /// The address `.eh_frame_hdr` says `.eh_frame` starts at.
    func headerFramePointer() -> UInt64? {
        guard let header = layout.header else { return nil }
        var cursor = Cursor(region: header)
        guard let version = read8(&cursor), version == 1, let framePointerEncoding = read8(&cursor),
              read8(&cursor) != nil, read8(&cursor) != nil else { return nil }
        return readPointer(&cursor, encoding: framePointerEncoding, dataBase: header.address)
    }

    /// Each FDE the search table lists, as (start, end); `nil` when there is no usable table
    /// (then `.eh_frame` is walked instead).
    func searchTableFDEs() -> [(UInt64, UInt64)]? {
        guard let header = layout.header else { return nil }
        var cursor = Cursor(region: header)
        guard let version = read8(&cursor), version == 1,
              let framePointerEncoding = read8(&cursor), let countEncoding = read8(&cursor),
              let tableEncoding = read8(&cursor),
              countEncoding != Encoding.omit, tableEncoding != Encoding.omit,
              readPointer(&cursor, encoding: framePointerEncoding, dataBase: header.address) != nil,
              let count = readPointer(&cursor, encoding: countEncoding, dataBase: header.address),
              count <= UInt64(Self.maximumEntries), count <= UInt64(header.size)  // entries take bytes
        else { return nil }
        var ranges: [(UInt64, UInt64)] = []
        ranges.reserveCapacity(Int(count))
        var cies = CIECache()
        for _ in 0..<Int(count) {
            guard let start = readPointer(&cursor, encoding: tableEncoding, dataBase: header.address),
                  let fdeAddress = readPointer(&cursor, encoding: tableEncoding, dataBase: header.address)
            else { return nil }
            // The FDE itself says how long the function is (and confirms where it starts).
            guard fdeAddress >= layout.frames.address, fdeAddress - layout.frames.address < UInt64(layout.frames.size),
                  case .fde(let fdeStart, let fdeEnd)? = entry(at: Int(fdeAddress - layout.frames.address), cies: &cies)?.kind,
                  fdeStart == start
            else { return nil }
            ranges.append((fdeStart, fdeEnd))
        }
        return ranges
    }

    // MARK: .eh_frame

    /// Every FDE of `.eh_frame`, in file order, as (start, end).
    func walkFDEs() -> [(UInt64, UInt64)] {
        var ranges: [(UInt64, UInt64)] = []
        var cies = CIECache()
        var offset = 0
        while ranges.count < Self.maximumEntries, let entry = entry(at: offset, cies: &cies) {
            if case .fde(let start, let end) = entry.kind { ranges.append((start, end)) }
            guard case .some(let next) = entry.next else { break }  // the zero terminator
            offset = next
        }
        return ranges
    }

    struct Entry {
        enum Kind {
            case cie
            case fde(start: UInt64, end: UInt64)
        }
        var kind: Kind
        /// The offset of the next entry; nil at the terminator.
        var next: Int?
    }

    /// What a CIE says that its FDEs need: how their addresses are encoded and whether they
    /// have augmentation data.
    struct CIE {
        var pointerEncoding: UInt8
        var hasAugmentationData: Bool
    }

    /// CIEs read so far, by offset in `.eh_frame`.
    struct CIECache {
        var byOffset: [Int: CIE] = [:]
    }

    /// The entry (CIE or FDE) at `offset` in `.eh_frame`; nil when it is malformed or past the end.
    /// `onlyCIE`: an FDE there is malformed too (an FDE's CIE pointer that leads to an FDE is not
    /// followed on: corrupt pointers could form a cycle, and the recursion would not end).
    func entry(at offset: Int, cies: inout CIECache, onlyCIE: Bool = false) -> Entry? {
        let frames = layout.frames
        guard offset >= 0, offset < frames.size else { return nil }
        var cursor = Cursor(region: frames, position: offset)
        guard let length32 = read32(&cursor) else { return nil }
        if length32 == 0 { return Entry(kind: .cie, next: nil) }  // terminator
        var length = UInt64(length32)
        if length32 == 0xffff_ffff {
            guard let length64 = read64(&cursor) else { return nil }
            length = length64
        }
        let body = cursor.position
        guard length <= UInt64(frames.size - body) else { return nil }
        let end = body + Int(length)
        var inner = Cursor(region: frames, position: body, limit: end)
        let idPosition = inner.position
        let id: UInt64
        if length32 == 0xffff_ffff {
            guard let value = read64(&inner) else { return nil }
            id = value
        } else {
            guard let value = read32(&inner) else { return nil }
            id = UInt64(value)
        }
        if id == 0 {
            guard let cie = parseCIE(&inner) else { return nil }
            cies.byOffset[offset] = cie
            return Entry(kind: .cie, next: end)
        }
        // The CIE pointer counts back from its own position.
        guard !onlyCIE, id <= UInt64(idPosition) else { return nil }
        let cieOffset = idPosition - Int(id)
        let cie: CIE
        if let known = cies.byOffset[cieOffset] {
            cie = known
        } else {
            guard case .cie? = entry(at: cieOffset, cies: &cies, onlyCIE: true)?.kind,
                  let read = cies.byOffset[cieOffset] else { return nil }
            cie = read
        }
        let fieldAddress = frames.address &+ UInt64(inner.position)
        guard let start = readPointer(&inner, encoding: cie.pointerEncoding, dataBase: 0, fieldAddress: fieldAddress),
              let range = readPointer(&inner, encoding: cie.pointerEncoding & 0x0f, dataBase: 0)
        else { return nil }
        let (functionEnd, overflow) = start.addingReportingOverflow(range)
        guard !overflow else { return nil }
        return Entry(kind: .fde(start: start, end: functionEnd), next: end)
    }

    /// The augmentation of a CIE (after its id): only what its FDEs' addresses need.
    private func parseCIE(_ cursor: inout Cursor) -> CIE? {
        guard let version = read8(&cursor), version == 1 || version == 3 || version == 4 else { return nil }
        var augmentation: [UInt8] = []
        while true {
            guard let byte = read8(&cursor) else { return nil }
            if byte == 0 { break }
            augmentation.append(byte)
            guard augmentation.count <= 16 else { return nil }
        }
        if version == 4 {
            guard read8(&cursor) != nil, read8(&cursor) != nil else { return nil }  // address and segment size
        }
        guard readULEB(&cursor) != nil, readSLEB(&cursor) != nil else { return nil }  // alignment factors
        if version == 1 {
            guard read8(&cursor) != nil else { return nil }
        } else {
            guard readULEB(&cursor) != nil else { return nil }
        }
        var cie = CIE(pointerEncoding: Encoding.absolute, hasAugmentationData: false)
        guard augmentation.first == UInt8(ascii: "z") else {
            // No 'z': nothing else can be understood, but absolute pointers are the default.
            return augmentation.isEmpty ? cie : nil
        }
        cie.hasAugmentationData = true
        guard let dataLength = readULEB(&cursor), dataLength <= UInt64(cursor.limit - cursor.position) else { return nil }
        let dataEnd = cursor.position + Int(dataLength)
        for letter in augmentation.dropFirst() {
            switch letter {
            case UInt8(ascii: "R"):
                guard let encoding = read8(&cursor) else { return nil }
                cie.pointerEncoding = encoding
            case UInt8(ascii: "P"):
                guard let encoding = read8(&cursor),
                      readPointer(&cursor, encoding: encoding & 0x7f, dataBase: 0) != nil else { return nil }
            case UInt8(ascii: "L"):
                guard read8(&cursor) != nil else { return nil }
            case UInt8(ascii: "S"), UInt8(ascii: "B"), UInt8(ascii: "G"):
                break
            default:
                // An unknown letter: what follows cannot be read, but what came before holds.
                cursor.position = dataEnd
                return cie
            }
        }
        return cie
    }

    // MARK: Reading

    /// A position in one region, reads bounded by `limit` (an offset in the region).
    struct Cursor {
        let region: EHFrameLayout.Region
        var position: Int
        let limit: Int

        init(region: EHFrameLayout.Region, position: Int = 0, limit: Int? = nil) {
            self.region = region
            self.position = position
            self.limit = min(limit ?? region.size, region.size)
        }

        /// The file offset of `count` bytes at the position, advancing past them; nil past the limit.
        mutating func take(_ count: Int) -> Int? {
            guard position >= 0, count <= limit - position else { return nil }
            defer { position += count }
            return region.fileOffset + position
        }

        /// The address of the position (for pc-relative pointers).
        var address: UInt64 { region.address &+ UInt64(position) }
    }

    /// DWARF exception-header pointer encodings (`DW_EH_PE_*`).
    enum Encoding {
        static let absolute: UInt8 = 0x00
        static let omit: UInt8 = 0xff
    }

    private func readUnsigned(_ cursor: inout Cursor, bytes: Int) -> UInt64? {
        guard let offset = cursor.take(bytes) else { return nil }
        var value: UInt64 = 0
        for index in 0..<bytes {
            let byte = UInt64(file[offset + (littleEndian ? index : bytes - 1 - index)])
            value |= byte << UInt64(8 * index)
        }
        return value
    }

    func read8(_ cursor: inout Cursor) -> UInt8? { readUnsigned(&cursor, bytes: 1).map { UInt8($0) } }
    func read32(_ cursor: inout Cursor) -> UInt32? { readUnsigned(&cursor, bytes: 4).map { UInt32($0) } }
    func read64(_ cursor: inout Cursor) -> UInt64? { readUnsigned(&cursor, bytes: 8) }

    func readULEB(_ cursor: inout Cursor) -> UInt64? {
        var value: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard let byte = read8(&cursor) else { return nil }
            if shift < 64 { value |= UInt64(byte & 0x7f) << shift }
            if byte & 0x80 == 0 { return value }
            shift += 7
            guard shift < 70 else { return nil }
        }
    }

    func readSLEB(_ cursor: inout Cursor) -> Int64? {
        var value: Int64 = 0, shift: Int64 = 0
        var byte: UInt8
        repeat {
            guard let next = read8(&cursor) else { return nil }
            byte = next
            if shift < 64 { value |= Int64(byte & 0x7f) << shift }
            shift += 7
            guard shift < 70 else { return nil }
        } while byte & 0x80 != 0
        if shift < 64, byte & 0x40 != 0 { value |= ~0 << shift }
        return value
    }

    /// A pointer in `encoding` (`DW_EH_PE_*`): its format in the low four bits, what it is
    /// relative to in the next three. `fieldAddress` overrides the cursor's address for
    /// pc-relative pointers; `dataBase` is what data-relative ones add (the header's address).
    /// Indirect, text- and function-relative pointers are not followed (nil).
    func readPointer(_ cursor: inout Cursor, encoding: UInt8, dataBase: UInt64, fieldAddress: UInt64? = nil) -> UInt64? {
        guard encoding != Encoding.omit, encoding & 0x80 == 0 else { return nil }
        let address = fieldAddress ?? cursor.address
        let raw: UInt64
        switch encoding & 0x0f {
        case 0x00: guard let value = readUnsigned(&cursor, bytes: is64Bit ? 8 : 4) else { return nil }; raw = value
        case 0x01: guard let value = readULEB(&cursor) else { return nil }; raw = value
        case 0x02: guard let value = readUnsigned(&cursor, bytes: 2) else { return nil }; raw = value
        case 0x03: guard let value = readUnsigned(&cursor, bytes: 4) else { return nil }; raw = value
        case 0x04: guard let value = readUnsigned(&cursor, bytes: 8) else { return nil }; raw = value
        case 0x09: guard let value = readSLEB(&cursor) else { return nil }; raw = UInt64(bitPattern: value)
        case 0x0a: guard let value = readUnsigned(&cursor, bytes: 2) else { return nil }; raw = UInt64(bitPattern: Int64(Int16(truncatingIfNeeded: value)))
        case 0x0b: guard let value = readUnsigned(&cursor, bytes: 4) else { return nil }; raw = UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: value)))
        case 0x0c: guard let value = readUnsigned(&cursor, bytes: 8) else { return nil }; raw = value
        default: return nil
        }
        switch encoding & 0x70 {
        case 0x00: return raw
        case 0x10: return address &+ raw  // pcrel
        case 0x30: return dataBase &+ raw  // datarel
        default: return nil
        }
    }
}
