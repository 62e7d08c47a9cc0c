import CElfutils

extension DWARFIndex {
    /// Builds ahead what looking up `addresses` needs, on two threads: the background thread
    /// walks the inline scopes of every unit they fall in, through a second handle on the same
    /// file (the results are plain arrays), while this one reads their line tables (which stay
    /// libdw's). Worth it only for many units; otherwise each unit loads on its first lookup.
    func preload(for addresses: some Sequence<UInt64>) {
        var pending: [Int] = []
        var seen = Set<Int>()
        for address in addresses {
            if let index = unitIndex(containing: address), units[index].scopes == nil, seen.insert(index).inserted {
                pending.append(index)
            }
        }
        guard pending.count >= 16 else { return }
        let work = pending.map { (index: $0, offset: dwarf_dieoffset(&units[$0].die)) }
        let path = image.path
        let load = BackgroundLoad { () -> [(index: Int, scopes: Scopes)] in
            guard let image = try? ELFImage(path: path), let dwarf = dwarf_begin_elf(image.elf, DWARF_C_READ, nil)
            else { return [] }
            defer { dwarf_end(dwarf) }
            return work.compactMap { item in
                var die = Dwarf_Die()
                guard dwarf_offdie(dwarf, item.offset, &die) != nil else { return nil }
                return (item.index, DWARFIndex.scopes(ofUnit: &die))
            }
        }
        for index in pending { loadLines(units[index]) }
        for (index, scopes) in load.value where units[index].scopes == nil {
            units[index].scopes = scopes
        }
    }
}
