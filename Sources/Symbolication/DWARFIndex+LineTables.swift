import CElfutils

/// Line tables, loaded per unit on its first lookup, and the file names they give.
extension DWARFIndex {
    func loadLines(_ unit: Unit) {
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
    func lineRow(_ unit: Unit, _ address: UInt64) -> (file: String?, line: Int, column: Int)? {
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

    func fileName(_ unit: Unit, index: Int) -> String? {
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

}
