import Glibc

extension DWARFIndex {
    /// Builds ahead what looking up `addresses` needs — the scope trees and line tables of every
    /// unit they fall in — on two threads: this one and the background lane take units from one
    /// shared queue (the results are plain values). Worth it only for many units; otherwise each
    /// unit loads on its first lookup.
    func preload(for addresses: some Sequence<UInt64>) {
        var pending: [Int] = []
        var seen = Set<Int>()
        for address in addresses {
            if let index = unitIndex(containing: address), units[index].scopes == nil, seen.insert(index).inserted {
                pending.append(index)
            }
        }
        guard pending.count >= 16 else { return }
        guard let reader else { return preloadWithLibdw(pending) }
        let work = pending.map { units[$0].native }
        let queue = SharedWorkQueue(count: work.count)
        let load = BackgroundLoad { () -> [(position: Int, scopes: Scopes, lines: DWARFReader.LineTableResult)] in
            var done: [(position: Int, scopes: Scopes, lines: DWARFReader.LineTableResult)] = []
            while let position = queue.next() {
                let unit = reader.units[work[position]]
                done.append((position, reader.scopes(ofUnit: unit), reader.lineTable(of: unit)))
            }
            return done
        }
        while let position = queue.next() {
            let unit = units[pending[position]]
            unit.scopes = reader.scopes(ofUnit: reader.units[unit.native])
            install(reader.lineTable(of: reader.units[unit.native]), in: unit)
        }
        for (position, scopes, lines) in load.value {
            let unit = units[pending[position]]
            if unit.scopes == nil { unit.scopes = scopes }
            install(lines, in: unit)
        }
    }

    /// The same through libdw: the background thread walks the inline scopes through a handle
    /// of its own on the same file, while this one reads the line tables.
    private func preloadWithLibdw(_ pending: [Int]) {
        let work = pending.map { (index: $0, offset: units[$0].dieOffset) }
        let path = image.path
        let load = BackgroundLoad { () -> [(index: Int, scopes: Scopes)] in
            guard let libdw = LibdwDWARF(path: path) else { return [] }
            return work.map { ($0.index, libdw.scopes(ofUnitAt: $0.offset)) }
        }
        for index in pending { loadLines(units[index]) }
        for (index, scopes) in load.value where units[index].scopes == nil {
            units[index].scopes = scopes
        }
    }
}

/// Positions `0..<count` handed out once each to whichever thread asks first.
private final class SharedWorkQueue: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var nextPosition = 0
    private let count: Int

    init(count: Int) {
        self.count = count
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func next() -> Int? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard nextPosition < count else { return nil }
        nextPosition += 1
        return nextPosition - 1
    }
}
