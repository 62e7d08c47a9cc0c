import Reporting

extension FlameGraph {
    /// The graph of folded-stack text (UTF-8), parsed by ``FoldedStacks/forEachStack(in:_:)``
    /// without building a string per frame.
    /// - Throws: ``FoldedStacksError`` naming the first bad line.
    public init(foldedText bytes: [UInt8], reverse: Bool = false) throws(FoldedStacksError) {
        self.init()
        var ids: [ArraySlice<UInt8>: Int32] = [:]
        var path: [Int32] = []
        do {
            try FoldedStacks.forEachStack(in: bytes) { (frames, count) throws(Never) in
                path.removeAll(keepingCapacity: true)
                for range in frames {
                    let slice = bytes[range]
                    if let id = ids[slice] {
                        path.append(id)
                    } else {
                        let id = internFolded(String(decoding: slice, as: UTF8.self))
                        ids[slice] = id
                        path.append(id)
                    }
                }
                if reverse { path.reverse() }
                add(path, count: count)
            }
        } catch {
            throw error.malformed
        }
        finish()
    }
}
