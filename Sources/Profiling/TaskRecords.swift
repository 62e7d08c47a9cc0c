import PerfABI

extension ProcessModel {
    /// Applies a record that changes tasks, their names or their address spaces (MMAP, COMM,
    /// FORK) — the one way both the report and the live view (`perch top`) follow them — and tells
    /// the resolver and the thread table what they must forget. Returns false for any other record.
    func apply(_ record: Record, resolver: inout StackResolver, threads: inout ThreadTable) -> Bool {
        switch record {
        case .mmap(let mmap):
            guard mmap.pid != -1 else { return true }  // kernel maps: kallsyms covers them
            resolver.addressSpacesChanged()
            self.mmap(pid: mmap.pid, start: mmap.start, length: mmap.length, pageOffset: mmap.pageOffset,
                      path: mmap.filename, buildID: mmap.buildID.map(Array.init))
        case .comm(let comm):
            self.comm(pid: comm.pid, tid: comm.tid, name: comm.name, exec: comm.isExec)
            resolver.addressSpacesChanged()
            if comm.isExec { resolver.threadChanged(tid: comm.tid) }
            threads.namesChanged()
        case .fork(let task):
            fork(pid: task.pid, parentPID: task.parentPID, tid: task.tid, parentTID: task.parentTID)
            resolver.addressSpacesChanged()
            resolver.threadChanged(tid: task.tid)
            threads.namesChanged()
        case .exit(let task):
            resolver.threadChanged(tid: task.tid)
            return false  // the caller may still want it
        default:
            return false
        }
        return true
    }
}
