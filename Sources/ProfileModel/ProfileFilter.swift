/// Keeps only the samples of some commands, processes or threads (`perch report --comm/--pid/--tid`).
public struct ProfileFilter: Sendable {
    public var comms: Set<String> = []
    public var pids: Set<Int32> = []
    public var tids: Set<Int32> = []
    /// Needs a profile built with `splitByCPU`.
    public var cpus: Set<Int32> = []

    public init(comms: Set<String> = [], pids: Set<Int32> = [], tids: Set<Int32> = [], cpus: Set<Int32> = []) {
        self.comms = comms
        self.pids = pids
        self.tids = tids
        self.cpus = cpus
    }

    public var isEmpty: Bool { comms.isEmpty && pids.isEmpty && tids.isEmpty && cpus.isEmpty }

    func accepts(_ thread: ThreadInfo) -> Bool {
        (comms.isEmpty || comms.contains(thread.comm)) && (pids.isEmpty || pids.contains(thread.pid))
            && (tids.isEmpty || tids.contains(thread.tid)) && (cpus.isEmpty || thread.cpu.map(cpus.contains) == true)
    }
}

extension Profile {
    /// The profile restricted to the threads `filter` accepts; frames and threads stay
    /// interned as they were, percentages are then relative to what is kept (as perf does).
    public func filtered(by filter: ProfileFilter) -> Profile {
        guard !filter.isEmpty else { return self }
        var copy = self
        let accepted = threads.map(filter.accepts)
        copy.stacks = stacks.filter { accepted[Int($0.thread)] }
        return copy
    }
}
