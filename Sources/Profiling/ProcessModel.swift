import Symbolication

/// A file mapping in a process's address space.
struct Mapping {
    var start: UInt64
    var end: UInt64
    var pageOffset: UInt64
    /// Index into ``ProcessModel/dsos``.
    var dso: Int32

    /// The file offset of `address` (in the mapping). The page offset comes from the recording
    /// and may be anything: a corrupted one wraps to a meaningless offset instead of trapping.
    @inline(__always)
    func fileOffset(of address: UInt64) -> UInt64 {
        (address &- start) &+ pageOffset
    }
}

/// One address space: executable mappings sorted by start address.
final class AddressSpace {
    private(set) var mappings: [Mapping] = []

    init(mappings: [Mapping] = []) { self.mappings = mappings }

    func copy() -> AddressSpace { AddressSpace(mappings: mappings) }

    /// Adds a mapping, replacing whatever it overlaps (as mmap does).
    func insert(_ mapping: Mapping) {
        guard mapping.end > mapping.start else { return }
        var result: [Mapping] = []
        result.reserveCapacity(mappings.count + 2)
        for existing in mappings {
            if existing.end <= mapping.start || existing.start >= mapping.end {
                result.append(existing)
                continue
            }
            if existing.start < mapping.start {
                var left = existing
                left.end = mapping.start
                result.append(left)
            }
            if existing.end > mapping.end {
                var right = existing
                right.pageOffset &+= mapping.end - existing.start  // file values: may wrap, never trap
                right.start = mapping.end
                result.append(right)
            }
        }
        let position = result.firstIndex { $0.start > mapping.start } ?? result.count
        result.insert(mapping, at: position)
        mappings = result
    }

    /// The mapping containing `address`.
    func find(_ address: UInt64) -> Mapping? {
        var low = 0, high = mappings.count
        while low < high {
            let middle = (low + high) / 2
            if mappings[middle].start <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let candidate = mappings[low - 1]
        return address < candidate.end ? candidate : nil
    }
}

/// Processes, threads and their address spaces over time, driven by MMAP/MMAP2, COMM, FORK
/// and EXIT records in time order.
final class ProcessModel {
    private(set) var dsos: [String] = []
    private(set) var dsoBuildIDs: [Int32: [UInt8]] = [:]
    private var dsoIndex: [String: Int32] = [:]
    private var spaces: [Int32: AddressSpace] = [:]
    /// Thread names, by tid.
    private(set) var comms: [Int32: String] = [:]
    /// Process of each thread.
    private(set) var processOf: [Int32: Int32] = [:]
    /// The build id the recording names for `[vdso]` (its BUILD_ID table), which has no file.
    let vdsoBuildID: [UInt8]?
    private let vdsoCache: VDSOCache
    /// The file `[vdso]` is read from once resolved (its name again when there is none).
    private var vdsoImagePath: String?
    /// Why DSOs without a file of their own could not be symbolized, for the report's notes.
    private(set) var imageNotes: [String] = []

    /// - Parameters:
    ///   - recordedBuildIDs: the recording's BUILD_ID table (it names `[vdso]`'s build id).
    ///   - vdsoCache: where the kept vdso images are.
    init(recordedBuildIDs: [(path: String, buildID: [UInt8])] = [], vdsoCache: VDSOCache = VDSOCache()) {
        vdsoBuildID = recordedBuildIDs.first { $0.path == Self.vdsoName }?.buildID
        self.vdsoCache = vdsoCache
    }

    static let vdsoName = "[vdso]"

    /// The file to open for a DSO's symbols and CFI: its path, or for `[vdso]` the kept copy of
    /// the kernel's image with the recorded build id (``VDSOCache``).
    func imagePath(ofDSO dso: Int32) -> String {
        let name = dsos[Int(dso)]
        guard name == Self.vdsoName else { return name }
        if let vdsoImagePath { return vdsoImagePath }
        switch vdsoCache.resolve(buildID: vdsoBuildID) {
        case .image(let path):
            vdsoImagePath = path
        case .missing(let reason):
            vdsoImagePath = name
            imageNotes.append(reason)
        }
        return vdsoImagePath ?? name
    }

    /// The build id the recording saw for a DSO, when it said.
    func expectedBuildID(ofDSO dso: Int32) -> [UInt8]? {
        dsos[Int(dso)] == Self.vdsoName ? vdsoBuildID : dsoBuildIDs[dso]
    }

    func dso(named path: String) -> Int32 {
        if let index = dsoIndex[path] { return index }
        let index = Int32(dsos.count)
        dsos.append(path)
        dsoIndex[path] = index
        return index
    }

    func space(of pid: Int32) -> AddressSpace {
        if let space = spaces[pid] { return space }
        let space = AddressSpace()
        spaces[pid] = space
        return space
    }

    func spaceIfKnown(of pid: Int32) -> AddressSpace? { spaces[pid] }

    func mmap(pid: Int32, start: UInt64, length: UInt64, pageOffset: UInt64, path: String, buildID: [UInt8]?) {
        let dso = dso(named: path)
        if let buildID, dsoBuildIDs[dso] == nil { dsoBuildIDs[dso] = buildID }
        // A length reaching past the top of the address space ends the mapping there.
        space(of: pid).insert(Mapping(start: start, end: start.addingSaturated(length), pageOffset: pageOffset, dso: dso))
    }

    func comm(pid: Int32, tid: Int32, name: String, exec: Bool) {
        if exec { spaces[pid] = AddressSpace() }
        comms[tid] = name
        processOf[tid] = pid
    }

    /// A new thread or process: it runs under its parent's name until a COMM renames it (the one
    /// naming rule; a reused tid is a new thread, so the parent's name replaces the old one).
    func fork(pid: Int32, parentPID: Int32, tid: Int32, parentTID: Int32) {
        processOf[tid] = pid
        if let name = comms[parentTID] ?? comms[parentPID] { comms[tid] = name }
        if pid != parentPID, spaces[pid] == nil, let parent = spaces[parentPID] {
            spaces[pid] = parent.copy()
        }
    }

    func name(ofThread tid: Int32, pid: Int32) -> String {
        if pid == 0 && tid == 0 { return "swapper" }
        return comms[tid] ?? comms[pid] ?? ":\(tid)"
    }
}
