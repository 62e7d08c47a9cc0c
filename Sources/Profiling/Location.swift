import ProfileModel

/// A sampled address after mapping resolution: what a frame will be symbolized from.
enum Location: Hashable {
    /// Code in a file mapping: the DSO (an index into ``ProcessModel/dsos``) and file offset.
    case user(dso: Int32, fileOffset: UInt64)
    /// A kernel address.
    case kernel(address: UInt64)
    /// A user address no mapping covered.
    case unmapped(address: UInt64)
    /// Code in anonymous memory that a process's JIT map (`/tmp/perf-PID.map`) names.
    case jit(pid: Int32, address: UInt64)
    /// The end of a user stack that went deeper than its copy.
    case truncated
    /// A synthetic frame such as `[on-cpu]`: an index into the builder's labels.
    case label(Int32)

    /// Two words that identify the location, for ``LocationTable``'s hash table.
    fileprivate var key: (UInt64, UInt64) {
        func tagged(_ tag: UInt64, _ value: Int32) -> UInt64 { tag << 32 | UInt64(UInt32(bitPattern: value)) }
        switch self {
        case .user(let dso, let offset): return (tagged(0, dso), offset)
        case .kernel(let address): return (tagged(1, -1), address)
        case .unmapped(let address): return (tagged(2, -1), address)
        case .truncated: return (tagged(3, -1), 0)
        case .label(let index): return (tagged(4, -1), UInt64(UInt32(bitPattern: index)))
        case .jit(let pid, let address): return (tagged(5, pid), address)
        }
    }
}

/// Every distinct location of a profile, each with a dense id assigned on first sight.
struct LocationTable {
    private(set) var locations: [Location] = []
    private var ids = WordPairTable(capacity: 4096)

    /// The id of `location`, and whether it was seen for the first time.
    @inline(__always)
    mutating func intern(_ location: Location) -> (id: Int32, isNew: Bool) {
        let key = location.key
        if let id = ids.find(key.0, key.1) { return (id, false) }
        let id = Int32(locations.count)
        locations.append(location)
        ids.insert(key.0, key.1, value: id)
        return (id, true)
    }
}
