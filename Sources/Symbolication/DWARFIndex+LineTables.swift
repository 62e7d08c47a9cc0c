/// Line tables, loaded per unit on its first lookup, and the file names they give.
extension DWARFIndex {
    func loadLines(_ unit: Unit) {
        guard !unit.linesLoaded else { return }
        if let reader, unit.native >= 0 {
            install(reader.lineTable(of: reader.units[unit.native]), in: unit)
        } else {
            installFromLibdw(unit)
        }
    }

    /// Keeps what the native reader made of `unit`'s line table (asking libdw when the reader
    /// left it to libdw).
    func install(_ result: DWARFReader.LineTableResult, in unit: Unit) {
        guard !unit.linesLoaded else { return }
        switch result {
        case .table(let table):
            unit.linesLoaded = true
            unit.lines = table
            unit.fileNames = Array(repeating: nil, count: table.files.count)
            let nativeUnit = reader!.units[unit.native]
            unit.compilationDirectory = nativeUnit.compDir
                .flatMap { reader!.bytes(of: $0) }
                .map { String(decoding: $0, as: UTF8.self) }
        case .none:
            unit.linesLoaded = true
        case .unsupported:
            installFromLibdw(unit)
        }
    }

    private func installFromLibdw(_ unit: Unit) {
        unit.linesLoaded = true
        guard let libdw else { return }
        unit.lines = libdw.lineTable(ofUnitAt: unit.dieOffset)
        unit.fileNames = Array(repeating: nil, count: unit.lines?.files.count ?? 0)
        unit.compilationDirectory = libdw.compilationDirectory(ofUnitAt: unit.dieOffset)
    }

    /// The last row at or before `address` (rows sorted as libdw sorts them, end-of-sequence
    /// rows before ordinary rows at the same address), as llvm-symbolizer picks it.
    func lineRow(_ unit: Unit, _ address: UInt64) -> (file: String?, line: Int, column: Int)? {
        guard let table = unit.lines else { return nil }
        let index = table.lastRow(atOrBefore: address)
        guard index >= 0 else { return nil }
        let row = table.rows[index]
        if row.isEndSequence { return nil }
        return (fileName(unit, index: Int(row.file)), Int(row.line), Int(row.column))
    }

    /// File `index` of `unit`'s line table, joined as llvm-symbolizer joins it.
    func fileName(_ unit: Unit, index: Int) -> String? {
        guard let table = unit.lines, index >= 0, index < table.files.count else { return nil }
        if let known = unit.fileNames[index] { return known }
        let name = joinedName(table.files[index], compilationDirectory: unit.compilationDirectory)
        unit.fileNames[index] = name
        return name
    }

    /// libdw's name (directory, `/`, name), then the compilation directory before a relative
    /// one, without doubled separators.
    private func joinedName(_ file: DWARFLineFile, compilationDirectory: String?) -> String? {
        var bytes: [UInt8] = []
        switch file {
        case .text(let text):
            bytes = Array(text.utf8)
        case .parts(let directory, let name):
            guard let reader, let nameBytes = reader.bytes(of: name) else { return nil }
            if let directory, let directoryBytes = reader.bytes(of: directory) {
                bytes.append(contentsOf: directoryBytes)
                bytes.append(UInt8(ascii: "/"))
            }
            bytes.append(contentsOf: nameBytes)
        }
        if bytes.first != UInt8(ascii: "/"), let dir = compilationDirectory, !dir.isEmpty {
            bytes = Array(dir.utf8) + [UInt8(ascii: "/")] + bytes
        }
        // Joined as llvm-symbolizer joins them: no doubled separators (libdw joins "/" and
        // "<compiler-generated>" into "//<compiler-generated>").
        var collapsed: [UInt8] = []
        collapsed.reserveCapacity(bytes.count)
        var previousSlash = false
        for byte in bytes {
            let slash = byte == UInt8(ascii: "/")
            if slash && previousSlash { continue }
            previousSlash = slash
            collapsed.append(byte)
        }
        return String(decoding: collapsed, as: UTF8.self)
    }
}
