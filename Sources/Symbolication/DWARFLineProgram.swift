/// One row of a line table.
struct DWARFLineRow: Sendable {
    var address: UInt64
    var file: UInt32
    var line: Int32
    var column: UInt16
    var isEndSequence: Bool
}

/// A file of a line table: libdw's joined name (directory, `/`, file name; the name alone when
/// absolute or without a directory), kept as its parts until a lookup needs the text.
enum DWARFLineFile: Sendable {
    case parts(directory: DWARFStringRef?, name: DWARFStringRef)
    case text(String)
}

/// A unit's line table: rows in the order libdw sorts them (by address, an end-of-sequence row
/// before others at its address, else in program order; the last row marked end of sequence),
/// and its files by index.
struct DWARFLineTable: Sendable {
    var rows: [DWARFLineRow] = []
    var files: [DWARFLineFile] = []

    /// The index of the last row at or before `address`, or `-1`.
    func lastRow(atOrBefore address: UInt64) -> Int {
        rows.withUnsafeBufferPointer { rows in
            var low = 0
            var high = rows.count
            while low < high {
                let mid = (low + high) >> 1
                if rows[mid].address <= address { low = mid + 1 } else { high = mid }
            }
            return low - 1
        }
    }
}

/// Reading a unit's line program (`.debug_line`, DWARF 2–5) into a `DWARFLineTable`, with the
/// checks and value widths of libdw 0.188's `read_srclines` so the same programs give the same
/// rows (and the same programs are rejected whole).
extension DWARFReader {
    enum LineTableResult {
        case table(DWARFLineTable)
        /// No table: no `DW_AT_stmt_list`, or a program libdw rejects too.
        case none
        /// A form the native reader leaves to libdw (string indexes in entry formats).
        case unsupported
    }

    /// Line programs with more rows than this are rejected (corrupt input must stay bounded).
    static let maximumLineRows = 1 << 26

    func lineTable(of unit: DWARFUnit) -> LineTableResult {
        guard let offset = unit.stmtList else { return .none }
        let section = sections[.line]
        guard offset < UInt64(section.count) else { return .none }
        var parser = LineProgramParser(reader: self, unit: unit, section: section, start: Int(offset))
        return parser.parse()
    }
}

private struct LineProgramParser {
    let reader: DWARFReader
    let unit: DWARFUnit
    let section: UnsafeRawBufferPointer
    let start: Int

    init(reader: DWARFReader, unit: DWARFUnit, section: UnsafeRawBufferPointer, start: Int) {
        self.reader = reader
        self.unit = unit
        self.section = section
        self.start = start
    }

    private enum Failure: Error {
        case invalid
        case unsupported
    }

    mutating func parse() -> DWARFReader.LineTableResult {
        do {
            return .table(try read())
        } catch .unsupported {
            return .unsupported
        } catch {
            return .none
        }
    }

    private func read() throws(Failure) -> DWARFLineTable {
        var cursor = DWARFCursor(section, offset: start)
        guard let initial = cursor.initialLength(), !cursor.failed, initial.length <= UInt64(cursor.remaining)
        else { throw .invalid }
        let (unitLength, offsetSize) = initial
        let end = cursor.offset + Int(unitLength)
        // Everything below reads inside the unit.
        let unitBytes = UnsafeRawBufferPointer(rebasing: section[0..<end])
        cursor = DWARFCursor(unitBytes, offset: cursor.offset)
        let version = cursor.u16()
        guard !cursor.failed, (2...5).contains(version) else { throw .invalid }
        if version >= 5 {
            let addressSize = cursor.u8()
            let segmentSize = cursor.u8()
            guard !cursor.failed, Int(addressSize) == unit.format.addressSize, segmentSize == 0 else { throw .invalid }
        }
        let headerLength = cursor.unsigned(size: offsetSize)
        let headerStart = cursor.offset
        guard !cursor.failed, headerLength <= UInt64(end - headerStart) else { throw .invalid }
        let headerEnd = headerStart + Int(headerLength)
        let minimumInstructionLength = UInt32(cursor.u8())
        var maximumOperations: UInt32 = 1
        if version >= 4 {
            maximumOperations = UInt32(cursor.u8())
            guard maximumOperations != 0 else { throw .invalid }
        }
        let defaultIsStatement = cursor.u8()
        let lineBase = Int32(Int8(bitPattern: cursor.u8()))
        let lineRange = UInt32(cursor.u8())
        let opcodeBase = UInt32(cursor.u8())
        guard !cursor.failed else { throw .invalid }
        // standard_opcode_lengths[k] is the byte at lengthsStart + k - 1 (libdw reads it there
        // even for k >= opcode_base, as for DW_LNE_set_discriminator's check).
        let lengthsStart = cursor.offset
        guard opcodeBase == 0 || cursor.skip(Int(opcodeBase) - 1) else { throw .invalid }
        func standardLength(_ opcode: UInt32) -> Int {
            let at = lengthsStart + Int(opcode) - 1
            return at >= 0 && at < unitBytes.count ? Int(unitBytes[at]) : -1
        }

        // Directories and files, read inside the header.
        var header = DWARFCursor(UnsafeRawBufferPointer(rebasing: unitBytes[0..<headerEnd]), offset: cursor.offset)
        var directories: [DWARFStringRef?] = []
        var files: [DWARFLineFile] = []
        if version < 5 {
            directories.append(unit.compDir)
            while true {
                guard header.remaining > 0 else { throw .invalid }
                if unitBytes[header.offset] == 0 { break }
                directories.append(DWARFStringRef(section: .line, offset: UInt64(header.skipCString())))
                guard !header.failed else { throw .invalid }
            }
            _ = header.u8()
            files.append(.text("???"))
            guard header.remaining > 0 else { throw .invalid }
            while header.remaining > 0, unitBytes[header.offset] != 0 {
                let nameOffset = header.skipCString()
                guard !header.failed, header.remaining > 0 else { throw .invalid }
                let directory = header.uleb()
                guard !header.failed, header.remaining > 0 else { throw .invalid }
                _ = header.uleb()
                guard !header.failed, header.remaining > 0 else { throw .invalid }
                _ = header.uleb()
                guard !header.failed else { throw .invalid }
                guard directory < UInt64(directories.count) else { throw .invalid }
                files.append(file(name: DWARFStringRef(section: .line, offset: UInt64(nameOffset)),
                                  directory: directories[Int(directory)]))
            }
            guard header.remaining > 0, unitBytes[header.offset] == 0 else { throw .invalid }
            _ = header.u8()
        } else {
            let directoryFormats = try entryFormats(&header, needsDirectoryIndex: false)
            let directoryCount = header.uleb()
            guard !header.failed else { throw .invalid }
            if directoryFormats.isEmpty && directoryCount != 0 { throw .invalid }
            if !directoryFormats.isEmpty && directoryCount > UInt64(header.remaining / directoryFormats.count) {
                throw .invalid
            }
            for _ in 0..<directoryCount {
                let entry = try readEntry(&header, directoryFormats, offsetSize: offsetSize)
                guard let path = entry.path else { throw .invalid }
                directories.append(path)
            }
            let fileFormats = try entryFormats(&header, needsDirectoryIndex: true)
            let fileCount = header.uleb()
            guard !header.failed else { throw .invalid }
            if fileFormats.isEmpty && fileCount != 0 { throw .invalid }
            if !fileFormats.isEmpty && fileCount > UInt64(header.remaining / fileFormats.count) { throw .invalid }
            files.append(.text("???"))
            for index in 0..<fileCount {
                let entry = try readEntry(&header, fileFormats, offsetSize: offsetSize)
                guard let path = entry.path, let directory = entry.directory else { throw .invalid }
                guard directory < UInt64(directories.count) else { throw .invalid }
                let made = file(name: path, directory: directories[Int(directory)])
                // DWARF 5 counts files from 0: entry 0 takes the place of "???".
                if index == 0 { files[0] = made } else { files.append(made) }
            }
        }
        guard header.offset == headerEnd, !header.failed else { throw .invalid }

        // The program.
        var program = DWARFCursor(unitBytes, offset: headerEnd)
        var rows: [DWARFLineRow] = []
        rows.reserveCapacity(max(16, (end - headerEnd) / 4))
        var address: UInt64 = 0
        var operationIndex: UInt32 = 0
        var fileIndex: UInt32 = 1
        var line: Int64 = 1
        var column: UInt32 = 0
        var isStatement = defaultIsStatement
        var isa: UInt32 = 0

        func advance(_ operations: UInt32) {
            let total = operationIndex &+ operations
            address &+= UInt64(minimumInstructionLength &* (total / maximumOperations))
            operationIndex = total % maximumOperations
        }
        func addRow(endSequence: Bool) throws(Failure) {
            // libdw keeps rows in narrower fields and rejects the table when a value does not fit.
            guard let narrowLine = Int32(exactly: line), column <= UInt32(UInt16.max), isStatement <= 1,
                  operationIndex <= 255, isa <= 255, rows.count < DWARFReader.maximumLineRows
            else { throw .invalid }
            rows.append(DWARFLineRow(
                address: address, file: fileIndex, line: narrowLine, column: UInt16(column), isEndSequence: endSequence))
        }

        while program.remaining > 0 {
            let opcode = UInt32(program.u8())
            if opcode >= opcodeBase {
                guard lineRange != 0 else { throw .invalid }
                let adjusted = opcode - opcodeBase
                line &+= Int64(lineBase + Int32(adjusted % lineRange))
                advance(adjusted / lineRange)
                try addRow(endSequence: false)
            } else if opcode == 0 {
                guard program.remaining >= 2 else { throw .invalid }
                let length = Int(program.u8())
                guard program.remaining >= length else { throw .invalid }
                let extended = program.u8()
                switch extended {
                case 1:  // DW_LNE_end_sequence
                    try addRow(endSequence: true)
                    address = 0
                    operationIndex = 0
                    fileIndex = 1
                    line = 1
                    column = 0
                    isStatement = defaultIsStatement
                    isa = 0
                case 2:  // DW_LNE_set_address
                    operationIndex = 0
                    guard program.remaining >= unit.format.addressSize else { throw .invalid }
                    address = program.unsigned(size: unit.format.addressSize)
                case 3:  // DW_LNE_define_file
                    let nameOffset = program.skipCString()
                    guard !program.failed, program.remaining > 0 else { throw .invalid }
                    let directory = program.uleb()
                    guard !program.failed, directory < UInt64(directories.count), program.remaining > 0 else {
                        throw .invalid
                    }
                    _ = program.uleb()
                    guard !program.failed, program.remaining > 0 else { throw .invalid }
                    _ = program.uleb()
                    files.append(file(name: DWARFStringRef(section: .line, offset: UInt64(nameOffset)),
                                      directory: directories[Int(directory)]))
                case 4:  // DW_LNE_set_discriminator
                    guard standardLength(4) == 1, program.remaining > 0 else { throw .invalid }
                    _ = program.uleb()
                default:
                    guard program.remaining + 1 >= length else { throw .invalid }
                    program.offset += length - 1
                }
            } else if opcode <= 12 {
                let expected = (opcode == 2 || opcode == 3 || opcode == 4 || opcode == 5 || opcode == 9 || opcode == 12) ? 1 : 0
                guard standardLength(opcode) == expected else { throw .invalid }
                if expected == 1 && opcode != 9 { guard program.remaining > 0 else { throw .invalid } }
                switch opcode {
                case 1: try addRow(endSequence: false)  // DW_LNS_copy
                case 2: advance(UInt32(truncatingIfNeeded: program.uleb()))
                case 3: line &+= Int64(Int32(truncatingIfNeeded: program.sleb()))
                case 4: fileIndex = UInt32(truncatingIfNeeded: program.uleb())
                case 5: column = UInt32(truncatingIfNeeded: program.uleb())
                case 6: isStatement = 1 &- isStatement
                case 8:
                    guard lineRange != 0 else { throw .invalid }
                    advance((255 - opcodeBase) / lineRange)
                case 9:
                    guard program.remaining >= 2 else { throw .invalid }
                    address &+= UInt64(program.u16())
                    operationIndex = 0
                case 12: isa = UInt32(truncatingIfNeeded: program.uleb())
                default: break  // basic_block, prologue_end, epilogue_begin: not kept
                }
            } else {
                let count = standardLength(opcode)
                guard count >= 0 else { throw .invalid }
                for _ in 0..<count {
                    guard program.remaining > 0 else { throw .invalid }
                    _ = program.uleb()
                }
            }
            if program.failed { throw .invalid }
        }
        Self.sortAsLibdw(&rows)
        return DWARFLineTable(rows: rows, files: files)
    }

    /// libdw's file name: the name alone when absolute or without a directory.
    private func file(name: DWARFStringRef, directory: DWARFStringRef?) -> DWARFLineFile {
        if let bytes = reader.bytes(of: name), bytes.first == UInt8(ascii: "/") {
            return .parts(directory: nil, name: name)
        }
        return .parts(directory: directory, name: name)
    }

    private struct EntryFormat {
        var content: UInt64
        var form: UInt16
    }

    private struct Entry {
        var path: DWARFStringRef?
        var directory: UInt64?
    }

    /// A DWARF 5 directory or file entry format.
    private func entryFormats(_ header: inout DWARFCursor, needsDirectoryIndex: Bool) throws(Failure) -> [EntryFormat] {
        let count = Int(header.u8())
        guard !header.failed else { throw .invalid }
        var formats: [EntryFormat] = []
        var hasPath = false
        var hasIndex = false
        for _ in 0..<count {
            let content = header.uleb()
            let form = header.uleb()
            guard !header.failed, form <= UInt64(UInt16.max) else { throw .invalid }
            guard DW.isSupported(form: UInt16(form)) else { throw .unsupported }
            if content == 1 { hasPath = true }  // DW_LNCT_path
            if content == 2 { hasIndex = true }  // DW_LNCT_directory_index
            formats.append(EntryFormat(content: content, form: UInt16(form)))
        }
        if count > 0 && (!hasPath || (needsDirectoryIndex && !hasIndex)) { throw .invalid }
        return formats
    }

    /// One directory or file entry: its path (checked to be inside its section) and directory.
    private func readEntry(_ header: inout DWARFCursor, _ formats: [EntryFormat], offsetSize: Int) throws(Failure) -> Entry {
        var entry = Entry()
        let format = DWARFFormat(addressSize: unit.format.addressSize, offsetSize: offsetSize, version: 5)
        // libdw uses the last path and directory-index descriptions when repeated.
        let pathIndex = formats.lastIndex { $0.content == 1 }
        let directoryIndex = formats.lastIndex { $0.content == 2 }
        for (index, format_) in formats.enumerated() {
            let valueStart = header.offset
            let value = reader.readValue(format_.form, implicitConst: 0, &header, format)
            guard !header.failed else { throw .invalid }
            if index == pathIndex {
                switch value.form {
                case DW.formString: entry.path = DWARFStringRef(section: .line, offset: UInt64(valueStart))
                case DW.formStrp: entry.path = DWARFStringRef(section: .str, offset: value.raw)
                case DW.formLineStrp: entry.path = DWARFStringRef(section: .lineStr, offset: value.raw)
                case DW.formStrx, DW.formStrx1, DW.formStrx2, DW.formStrx3, DW.formStrx4, DW.formGNUStrIndex:
                    throw .unsupported
                default: break
                }
                if let path = entry.path, reader.bytes(of: path) == nil { entry.path = nil }
            } else if index == directoryIndex {
                entry.directory = reader.constant(value)
            }
        }
        return entry
    }

    /// Rows in libdw's order. Sequences usually do not overlap: sorted by start and laid end
    /// to end they are already in that order, which is checked pair by pair; otherwise (discarded
    /// functions' sequences at address 0, say) every row is sorted as libdw sorts them.
    static func sortAsLibdw(_ rows: inout [DWARFLineRow]) {
        guard !rows.isEmpty else { return }
        // Sequences: runs of rows ending with an end-of-sequence row (the last may not).
        var sequences: [(address: UInt64, start: Int, end: Int)] = []
        var start = 0
        for index in rows.indices where rows[index].isEndSequence || index == rows.count - 1 {
            sequences.append((rows[start].address, start, index + 1))
            start = index + 1
        }
        var order = sequences
        order.sort { $0.address != $1.address ? $0.address < $1.address : $0.start < $1.start }
        if isSorted(rows, order) {
            rows[rows.count - 1].isEndSequence = true
            return
        }
        var result: [DWARFLineRow] = []
        result.reserveCapacity(rows.count)
        var previous = -1
        var inOrder = true
        for sequence in order {
            for index in sequence.start..<sequence.end {
                if previous >= 0, !precedes(rows[previous], previous, rows[index], index) {
                    inOrder = false
                    break
                }
                result.append(rows[index])
                previous = index
            }
            if !inOrder { break }
        }
        if !inOrder {
            let indices = rows.indices.sorted { precedes(rows[$0], $0, rows[$1], $1) }
            result = indices.map { rows[$0] }
        }
        result[result.count - 1].isEndSequence = true
        rows = result
    }

    /// Whether the rows are already in libdw's order: sequences in emission order are also in
    /// address order, and every row precedes the next.
    private static func isSorted(_ rows: [DWARFLineRow], _ order: [(address: UInt64, start: Int, end: Int)]) -> Bool {
        var expected = 0
        for sequence in order {
            guard sequence.start == expected else { return false }
            expected = sequence.end
        }
        return rows.withUnsafeBufferPointer { rows in
            for index in rows.indices.dropFirst() where !precedes(rows[index - 1], index - 1, rows[index], index) {
                return false
            }
            return true
        }
    }

    /// libdw's `compare_lines`: by address, an end-of-sequence row first, then program order.
    @inline(__always)
    private static func precedes(_ a: DWARFLineRow, _ aIndex: Int, _ b: DWARFLineRow, _ bIndex: Int) -> Bool {
        if a.address != b.address { return a.address < b.address }
        if a.isEndSequence != b.isEndSequence { return a.isEndSequence }
        return aIndex < bIndex
    }
}
