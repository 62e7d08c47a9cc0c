import CElfutils
import Glibc

/// The bytes of the DWARF sections of one ELF image, as libelf gives them (decompressed first
/// when `SHF_COMPRESSED`, or `.zdebug_*`), valid while the image lives.
///
/// Plain pointers into libelf's mapping (or its decompressed copies), never written: any thread
/// may read them while the owning `ELFImage` is alive.
struct DWARFSections: @unchecked Sendable {
    /// Which section a string or offset lives in.
    enum Name: Int, CaseIterable, Sendable {
        case info, abbrev, str, lineStr, strOffsets, addr, ranges, rnglists, line, types

        /// The section's name in an ELF file (the `.zdebug_` form replaces `.debug_`).
        var elfName: String {
            switch self {
            case .info: ".debug_info"
            case .abbrev: ".debug_abbrev"
            case .str: ".debug_str"
            case .lineStr: ".debug_line_str"
            case .strOffsets: ".debug_str_offsets"
            case .addr: ".debug_addr"
            case .ranges: ".debug_ranges"
            case .rnglists: ".debug_rnglists"
            case .line: ".debug_line"
            case .types: ".debug_types"
            }
        }
    }

    private var bytes: [UnsafeRawBufferPointer]
    /// Whether the image has a `.gnu_debugaltlink` (dwz): its DIEs and strings may live in
    /// another file, which only libdw finds.
    let hasAltLink: Bool

    /// The bytes of section `name` (empty when absent).
    subscript(_ name: Name) -> UnsafeRawBufferPointer { bytes[name.rawValue] }

    /// Reads the sections of `image`; `nil` when the native reader cannot read this image at all
    /// (big-endian: the reader assumes little-endian loads).
    init?(image: ELFImage) {
        guard image.isLittleEndian else { return nil }
        bytes = Array(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: Name.allCases.count)
        hasAltLink = image.sections.contains { $0.name == ".gnu_debugaltlink" }
        for name in Name.allCases {
            let plain = name.elfName
            let gnu = ".z" + plain.dropFirst()
            guard let section = image.sections.first(where: { $0.name == plain || $0.name == gnu }),
                  section.type != UInt32(SHT_NOBITS), section.size > 0,
                  let scn = elf_getscn(image.elf, section.index)
            else { continue }
            if section.name == gnu {
                guard elf_compress_gnu(scn, 0, 0) >= 0 else { continue }
            } else if section.flags & UInt64(SHF_COMPRESSED) != 0 {
                guard elf_compress(scn, 0, 0) >= 0 else { continue }
            }
            guard let data = elf_getdata(scn, nil), let base = data.pointee.d_buf, data.pointee.d_size > 0 else {
                continue
            }
            bytes[name.rawValue] = UnsafeRawBufferPointer(start: base, count: data.pointee.d_size)
        }
    }

    /// The NUL-terminated string at `offset` in `section` (bytes up to the NUL or the section's
    /// end); `nil` when `offset` is outside the section.
    func cString(_ section: Name, at offset: UInt64) -> UnsafeRawBufferPointer? {
        let bytes = self[section]
        guard offset < UInt64(bytes.count), let base = bytes.baseAddress else { return nil }
        let start = Int(offset)
        let remaining = bytes.count - start
        let begin = base + start
        let length: Int
        if let nul = memchr(begin, 0, remaining) {
            length = begin.distance(to: UnsafeRawPointer(nul))
        } else {
            length = remaining
        }
        return UnsafeRawBufferPointer(start: begin, count: length)
    }
}

/// A bounds-checked little-endian reader over one section's bytes.
///
/// A read past the end yields zero and sets `failed` (sticky), so a parser checks once per
/// record instead of per field, and never reads outside the section.
struct DWARFCursor {
    let bytes: UnsafeRawBufferPointer
    var offset: Int
    var failed = false

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        if offset < 0 || offset > bytes.count { failed = true }
    }

    /// Bytes left before the end of the section.
    var remaining: Int { failed ? 0 : bytes.count - offset }
    var atEnd: Bool { remaining <= 0 }

    /// Consumes `count` bytes; `false` (and `failed`) when fewer remain.
    @inline(__always)
    mutating func skip(_ count: Int) -> Bool {
        guard !failed, count >= 0, count <= bytes.count - offset else {
            failed = true
            return false
        }
        offset += count
        return true
    }

    @inline(__always)
    mutating func u8() -> UInt8 {
        guard !failed, offset < bytes.count else {
            failed = true
            return 0
        }
        let value = bytes[offset]
        offset += 1
        return value
    }

    /// A little-endian integer of `T`'s width; 0 and `failed` when the bytes run out.
    @inline(__always)
    mutating func littleEndian<T: FixedWidthInteger>(_: T.Type) -> T {
        let size = MemoryLayout<T>.size
        guard !failed, bytes.count - offset >= size else {
            failed = true
            return 0
        }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    @inline(__always)
    mutating func u16() -> UInt16 { littleEndian(UInt16.self) }

    @inline(__always)
    mutating func u24() -> UInt32 {
        let low = UInt32(u16())
        return low | UInt32(u8()) << 16
    }

    @inline(__always)
    mutating func u32() -> UInt32 { littleEndian(UInt32.self) }

    @inline(__always)
    mutating func u64() -> UInt64 { littleEndian(UInt64.self) }

    /// An unsigned value of `size` bytes (1, 2, 4 or 8; anything else fails).
    @inline(__always)
    mutating func unsigned(size: Int) -> UInt64 {
        switch size {
        case 8: return u64()
        case 4: return UInt64(u32())
        case 2: return UInt64(u16())
        case 1: return UInt64(u8())
        default:
            failed = true
            return 0
        }
    }

    /// An unsigned LEB128; bits beyond 64 are dropped (as libdw drops them).
    @inline(__always)
    mutating func uleb() -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = u8()
            if failed { return 0 }
            if shift < 64 { result |= UInt64(byte & 0x7f) << shift }
            shift += 7
            if byte & 0x80 == 0 { return result }
        }
    }

    /// A signed LEB128, sign-extended to 64 bits.
    mutating func sleb() -> Int64 {
        var result: Int64 = 0
        var shift: Int64 = 0
        var byte: UInt8 = 0
        repeat {
            byte = u8()
            if failed { return 0 }
            if shift < 64 { result |= Int64(byte & 0x7f) << shift }
            shift += 7
        } while byte & 0x80 != 0
        if shift < 64, byte & 0x40 != 0 { result |= Int64(-1) << shift }
        return result
    }

    /// Skips a NUL-terminated string; returns its start offset.
    mutating func skipCString() -> Int {
        let start = offset
        guard !failed, offset < bytes.count, let base = bytes.baseAddress else {
            failed = true
            return start
        }
        guard let nul = memchr(base + offset, 0, bytes.count - offset) else {
            failed = true
            return start
        }
        offset = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(nul)) + 1
        return start
    }

    /// An initial length: `(length, offsetSize)`; `nil` for the reserved values.
    mutating func initialLength() -> (length: UInt64, offsetSize: Int)? {
        let short = u32()
        if short == 0xffff_ffff { return (u64(), 8) }
        if short >= 0xffff_fff0 { return nil }
        return (UInt64(short), 4)
    }
}
