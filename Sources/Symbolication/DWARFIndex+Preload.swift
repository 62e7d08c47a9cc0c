import Dispatch
import Glibc

extension DWARFIndex {
    /// Builds ahead what looking up `addresses` needs — the scope trees and line tables of every
    /// unit they fall in — on all CPUs (`forEachUnit`), or through a second libdw handle on the
    /// background lane when libdw reads the image. Worth it only for many units; otherwise each
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
        guard reader != nil else { return preloadWithLibdw(pending) }
        for index in forEachUnit(pending, lanes: onlineProcessors, { _, _ in }) {
            loadLines(units[index])
            _ = loadScopes(units[index])
        }
    }

    /// Makes each unit of `indices` ready for `frames(at:)` (scope tree and line table read
    /// natively) and calls `body(lane, index)` on it, over `lanes` threads taking whole units
    /// from one queue: a unit and its caches belong to one thread while it is visited. Returns
    /// the units left out because part of them must come through libdw, which only one thread
    /// may use: the caller loads and visits those on its own thread.
    func forEachUnit(_ indices: [Int], lanes: Int, _ body: (_ lane: Int, _ index: Int) -> Void) -> [Int] {
        guard let reader else { return indices }
        let queue = SharedWorkQueue(count: indices.count)
        let lanes = max(1, min(lanes, indices.count))
        var leftOut = Array(repeating: [Int](), count: lanes)
        // The lanes share this index (its `units` array is only read) and `body`; each unit
        // is written by the one lane that took it.
        let shared = Unchecked(self)
        withoutActuallyEscaping(body) { body in
            let visit = Unchecked(body)
            leftOut.withUnsafeMutableBufferPointer { leftOut in
                let perLane = Unchecked(leftOut)
                DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                    let index = shared.value
                    while let position = queue.next() {
                        let unitIndex = indices[position]
                        let unit = index.units[unitIndex]
                        guard unit.native >= 0 else {
                            perLane.value[lane].append(unitIndex)
                            continue
                        }
                        if !unit.linesLoaded {
                            let lines = reader.lineTable(of: reader.units[unit.native])
                            if case .unsupported = lines {
                                perLane.value[lane].append(unitIndex)
                                continue
                            }
                            index.install(lines, in: unit)
                        }
                        if unit.scopes == nil { unit.scopes = reader.scopes(ofUnit: reader.units[unit.native]) }
                        visit.value(lane, unitIndex)
                    }
                }
            }
        }
        return leftOut.flatMap { $0 }
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

/// The CPUs this machine has online: how many lanes a batch is split into.
let onlineProcessors = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

/// A value several threads use in parts that never overlap (each lane its own slot).
struct Unchecked<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
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
