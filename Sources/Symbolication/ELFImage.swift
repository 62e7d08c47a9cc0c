import CElfutils
import Glibc

/// One open ELF file (executable, shared object, relocatable object or debug file), read
/// through libelf with a read-only mmap.
///
/// An `ELFImage` owns a file descriptor and a libelf handle and releases both in `deinit`.
/// libelf handles are not thread-safe: confine an image to one thread or actor.
public final class ELFImage {
    /// The ELF `e_type` of the file.
    public enum FileType: Sendable, Hashable {
        /// `ET_REL`: a relocatable object (`.o`, kernel module).
        case relocatable
        /// `ET_EXEC`: a position-dependent executable, loaded at its link addresses.
        case executable
        /// `ET_DYN`: a shared object or a PIE executable, loaded at a bias.
        case sharedObject
        /// `ET_CORE`: a core dump.
        case core
        /// Any other `e_type` value.
        case other(UInt16)
    }

    /// A `PT_LOAD` program header: a piece of the file mapped at `virtualAddress`.
    public struct LoadSegment: Sendable, Hashable {
        /// `p_offset`: where the segment starts in the file.
        public var fileOffset: UInt64
        /// `p_vaddr`: the link-time address of the segment's first byte.
        public var virtualAddress: UInt64
        /// `p_filesz`: bytes backed by the file.
        public var fileSize: UInt64
        /// `p_memsz`: bytes in memory (at least `fileSize`; the rest is zero-filled).
        public var memorySize: UInt64
        /// `p_flags` (`PF_X` = 1, `PF_W` = 2, `PF_R` = 4).
        public var flags: UInt32

        /// Whether the segment is mapped executable (`PF_X`).
        public var isExecutable: Bool { flags & 1 != 0 }
    }

    /// A section header, with its name resolved from the section-header string table.
    public struct Section: Sendable, Hashable {
        /// The section's index (as used by `st_shndx` and `sh_link`).
        public var index: Int
        /// The section's name, e.g. `.text`; empty when unnamed or unreadable.
        public var name: String
        /// `sh_type` (e.g. `SHT_SYMTAB` = 2, `SHT_NOTE` = 7, `SHT_NOBITS` = 8, `SHT_DYNSYM` = 11).
        public var type: UInt32
        /// `sh_flags` (`SHF_ALLOC` = 2, `SHF_EXECINSTR` = 4).
        public var flags: UInt64
        /// `sh_addr`.
        public var address: UInt64
        /// `sh_offset`.
        public var fileOffset: UInt64
        /// `sh_size`.
        public var size: UInt64
        /// `sh_link` (for symbol tables: the index of their string table).
        public var link: UInt32
        /// `sh_entsize`.
        public var entrySize: UInt64

        /// Whether the section holds executable code (`SHF_EXECINSTR`).
        public var isExecutable: Bool { flags & 4 != 0 }
    }

    /// The path the image was opened from.
    public let path: String
    /// The ELF `e_type`.
    public let fileType: FileType
    /// The ELF `e_machine`.
    public let machine: UInt16
    /// The `PT_LOAD` segments, in program-header order.
    public let loadSegments: [LoadSegment]
    /// All section headers (empty for files stripped of their section table).
    public let sections: [Section]
    /// The GNU build id (the descriptor of the `NT_GNU_BUILD_ID` note), if the file has one.
    public let buildID: [UInt8]?
    /// Whether the file is `ELFCLASS64` (else 32-bit: 4-byte addresses).
    public let is64Bit: Bool
    /// Whether the file is little-endian (`ELFDATA2LSB`).
    public let isLittleEndian: Bool
    /// The `PT_GNU_EH_FRAME` program header (where `.eh_frame_hdr` is), found even when the
    /// section table is stripped. Only its offset, address and file size are meaningful.
    public let ehFrameHeaderSegment: LoadSegment?

    /// The file as it was when it was opened (`nil`: `fstat` failed).
    public let openedIdentity: FileIdentity?

    /// libelf handle; valid for the lifetime of `self` (the unwinder reads CFI through it too).
    package let elf: OpaquePointer
    private let fd: Int32

    /// Whether symbol addresses in this image are relative to a load bias (`ET_DYN`: shared
    /// objects and PIE executables). For `ET_EXEC` the addresses are absolute.
    public var isPositionIndependent: Bool { fileType == .sharedObject }

    /// Whether this is a relocatable object (`ET_REL`), whose sections have no final addresses.
    public var isRelocatable: Bool { fileType == .relocatable }

    /// The build id as lowercase hex (the form `readelf -n` and `perf buildid-list` print).
    public var buildIDHex: String? { buildID.map(ELFImage.hex) }

    private static let libelfReady: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

    /// Opens the ELF file at `path`.
    ///
    /// - Throws: `SymbolicationError.cannotOpen` when the file cannot be opened,
    ///   `.notELF` when it is not an ELF object, `.malformed` when its ELF header is unreadable.
    public init(path: String) throws(SymbolicationError) {
        guard ELFImage.libelfReady else {
            throw .malformed(path: path, reason: "libelf version mismatch")
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            // libelf refuses empty files, directories and the like: none of them is ELF.
            close(fd)
            throw .notELF(path: path)
        }
        guard elf_kind(elf) == ELF_K_ELF else {
            elf_end(elf)
            close(fd)
            throw .notELF(path: path)
        }
        var ehdr = GElf_Ehdr()
        guard gelf_getehdr(elf, &ehdr) != nil else {
            let reason = ELFImage.lastError()
            elf_end(elf)
            close(fd)
            throw .malformed(path: path, reason: reason)
        }
        self.path = path
        self.fd = fd
        self.elf = elf
        self.openedIdentity = FileIdentity(descriptor: fd)
        self.machine = ehdr.e_machine
        switch Int32(ehdr.e_type) {
        case ET_REL: fileType = .relocatable
        case ET_EXEC: fileType = .executable
        case ET_DYN: fileType = .sharedObject
        case ET_CORE: fileType = .core
        default: fileType = .other(ehdr.e_type)
        }
        let programHeaders = ELFImage.readProgramHeaders(elf)
        loadSegments = programHeaders.compactMap { phdr in
            guard phdr.p_type == UInt32(PT_LOAD) else { return nil }
            return LoadSegment(
                fileOffset: phdr.p_offset, virtualAddress: phdr.p_vaddr,
                fileSize: phdr.p_filesz, memorySize: phdr.p_memsz, flags: phdr.p_flags)
        }
        ehFrameHeaderSegment = programHeaders.first { $0.p_type == UInt32(PT_GNU_EH_FRAME) }.map { phdr in
            LoadSegment(fileOffset: phdr.p_offset, virtualAddress: phdr.p_vaddr, fileSize: phdr.p_filesz,
                        memorySize: phdr.p_memsz, flags: phdr.p_flags)
        }
        is64Bit = gelf_getclass(elf) == ELFCLASS64
        isLittleEndian = withUnsafeBytes(of: ehdr.e_ident) { $0[Int(EI_DATA)] } != UInt8(ELFDATA2MSB)
        sections = ELFImage.readSections(elf)
        buildID = ELFImage.findBuildID(elf, programHeaders: programHeaders, sections: sections)
    }

    /// The whole file's bytes (libelf's mapping of it), valid while `self` lives; `nil` when
    /// libelf cannot give them.
    public var fileBytes: UnsafeRawBufferPointer? {
        var size = 0
        guard let base = elf_rawfile(elf, &size), size > 0 else { return nil }
        return UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        elf_end(elf)
        close(fd)
    }

    /// Reads only the GNU build id of the file at `path`; `nil` when the file cannot be opened,
    /// is not ELF, or has no build-id note. Cheap: the file is mmapped and only the
    /// headers and note segments are touched.
    public static func readBuildID(path: String) -> [UInt8]? {
        (try? ELFImage(path: path))?.buildID
    }

    /// Translates a file offset (for a sample: `address - mapping.start + mapping.pgoff`) to
    /// the link-time virtual address used by the symbol table.
    ///
    /// Finds the `PT_LOAD` segment whose `[p_offset, p_offset + p_memsz)` contains `offset`
    /// (`p_filesz` is checked first; `p_memsz` makes the lookup lenient for `.bss`-adjacent
    /// bytes) and returns `offset - p_offset + p_vaddr`. `nil` when no segment covers it.
    public func virtualAddress(forFileOffset offset: UInt64) -> UInt64? {
        for segment in loadSegments
        where offset >= segment.fileOffset && offset - segment.fileOffset < segment.fileSize {
            return offset - segment.fileOffset &+ segment.virtualAddress
        }
        for segment in loadSegments
        where offset >= segment.fileOffset && offset - segment.fileOffset < segment.memorySize {
            return offset - segment.fileOffset &+ segment.virtualAddress
        }
        return nil
    }

    /// The inverse of `virtualAddress(forFileOffset:)`: the file offset backing `address`,
    /// or `nil` when no `PT_LOAD` segment's file bytes contain it.
    public func fileOffset(forVirtualAddress address: UInt64) -> UInt64? {
        for segment in loadSegments
        where address >= segment.virtualAddress && address - segment.virtualAddress < segment.fileSize {
            return address - segment.virtualAddress &+ segment.fileOffset
        }
        return nil
    }

    /// The first section with the given name, e.g. `.symtab`.
    public func section(named name: String) -> Section? {
        sections.first { $0.name == name }
    }

    // MARK: - Reading

    static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func lastError() -> String {
        guard let message = elf_errmsg(-1) else { return "unknown libelf error" }
        return String(cString: message)
    }

    private static func readProgramHeaders(_ elf: OpaquePointer) -> [GElf_Phdr] {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0, count > 0 else { return [] }
        var headers = [GElf_Phdr]()
        headers.reserveCapacity(count)
        for index in 0..<count {
            var phdr = GElf_Phdr()
            if gelf_getphdr(elf, Int32(clamping: index), &phdr) != nil {
                headers.append(phdr)
            }
        }
        return headers
    }

    private static func readSections(_ elf: OpaquePointer) -> [Section] {
        var stringTableIndex = 0
        let haveNames = elf_getshdrstrndx(elf, &stringTableIndex) == 0
        var sections = [Section]()
        var scn = elf_nextscn(elf, nil)
        while let current = scn {
            var shdr = GElf_Shdr()
            if gelf_getshdr(current, &shdr) != nil {
                var name = ""
                if haveNames, let cName = elf_strptr(elf, stringTableIndex, Int(shdr.sh_name)) {
                    name = String(cString: cName)
                }
                sections.append(Section(
                    index: elf_ndxscn(current), name: name, type: shdr.sh_type,
                    flags: shdr.sh_flags, address: shdr.sh_addr, fileOffset: shdr.sh_offset,
                    size: shdr.sh_size, link: shdr.sh_link, entrySize: shdr.sh_entsize))
            }
            scn = elf_nextscn(elf, current)
        }
        return sections
    }

    /// Looks for `NT_GNU_BUILD_ID` in `PT_NOTE` segments first (present even when the
    /// section table is stripped), then in `SHT_NOTE` sections (relocatable and debug files).
    private static func findBuildID(
        _ elf: OpaquePointer, programHeaders: [GElf_Phdr], sections: [Section]
    ) -> [UInt8]? {
        for phdr in programHeaders where phdr.p_type == UInt32(PT_NOTE) && phdr.p_filesz > 0 {
            let type = phdr.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR
            guard let offset = Int64(exactly: phdr.p_offset), let size = Int(exactly: phdr.p_filesz),
                  let data = elf_getdata_rawchunk(elf, offset, size, type)
            else { continue }
            if let id = buildID(inNotes: data) { return id }
        }
        for section in sections where section.type == UInt32(SHT_NOTE) {
            guard let scn = elf_getscn(elf, section.index) else { continue }
            var data = elf_getdata(scn, nil)
            while let current = data {
                if let id = buildID(inNotes: current) { return id }
                data = elf_getdata(scn, current)
            }
        }
        return nil
    }

    private static func buildID(inNotes data: UnsafeMutablePointer<Elf_Data>) -> [UInt8]? {
        guard let base = data.pointee.d_buf else { return nil }
        let size = data.pointee.d_size
        var offset = 0
        while offset < size {
            var header = GElf_Nhdr()
            var nameOffset = 0
            var descOffset = 0
            let next = gelf_getnote(data, offset, &header, &nameOffset, &descOffset)
            guard next > offset else { break }
            offset = next
            guard header.n_type == UInt32(NT_GNU_BUILD_ID), header.n_namesz == 4,
                  header.n_descsz > 0, descOffset + Int(header.n_descsz) <= size,
                  nameOffset + 4 <= size
            else { continue }
            let name = base.advanced(by: nameOffset).assumingMemoryBound(to: UInt8.self)
            // "GNU\0"
            guard name[0] == 0x47, name[1] == 0x4E, name[2] == 0x55, name[3] == 0 else { continue }
            let desc = UnsafeRawBufferPointer(
                start: base.advanced(by: descOffset), count: Int(header.n_descsz))
            return Array(desc)
        }
        return nil
    }
}
