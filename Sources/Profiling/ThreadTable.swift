import ProfileModel

/// Threads as the profile shows them: a thread under one name (and, with `splitByCPU`, on one
/// CPU) is one entry, so samples taken before and after an exec or a rename are told apart.
struct ThreadTable {
    private struct Key: Hashable {
        var pid: Int32
        var tid: Int32
        var comm: String
        /// The CPU, when samples are kept apart by CPU; else -1.
        var cpu: Int32
    }

    private let splitByCPU: Bool
    private var entries = Interner<Key>()
    /// The last thread looked up, for the common run of samples from one thread.
    private var last: (pid: Int32, tid: Int32, cpu: Int32, id: Int32)?

    init(splitByCPU: Bool) {
        self.splitByCPU = splitByCPU
    }

    /// A COMM or FORK record may have renamed a thread: look names up again.
    mutating func namesChanged() {
        last = nil
    }

    /// The id of the thread `tid` of `pid` as named in `model` now, on `cpu`.
    @inline(__always)
    mutating func id(pid: Int32, tid: Int32, cpu: Int32, model: ProcessModel) -> Int32 {
        // Consecutive samples usually come from the same thread: skip the lookups then.
        let cpuKey = splitByCPU ? cpu : -1
        if let last, last.pid == pid, last.tid == tid, last.cpu == cpuKey { return last.id }
        let id = entries.intern(Key(pid: pid, tid: tid, comm: model.name(ofThread: tid, pid: pid), cpu: cpuKey))
        last = (pid, tid, cpuKey, id)
        return id
    }

    /// Every thread, at its id.
    var threads: [ThreadInfo] {
        entries.values.map { ThreadInfo(pid: $0.pid, tid: $0.tid, comm: $0.comm, cpu: $0.cpu >= 0 ? $0.cpu : nil) }
    }
}
