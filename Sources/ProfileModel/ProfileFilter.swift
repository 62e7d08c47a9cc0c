/// Keeps only the samples of some commands, processes, threads, CPUs or shared objects, and cuts
/// stacks to their innermost frames (`perch report --comms/--pids/--tids/--cpu/--dsos/--max-stack`).
public struct ProfileFilter: Sendable {
    public var comms: Set<String> = []
    public var pids: Set<Int32> = []
    public var tids: Set<Int32> = []
    /// Needs a profile built with `splitByCPU`.
    public var cpus: Set<Int32> = []
    /// Only samples whose sampled (leaf) frame is in one of these shared objects, each named by its
    /// path, its file name, or the name the report shows (`[kernel.kallsyms]`, `libc.so.6`).
    public var dsos: Set<String> = []
    /// Keep at most this many frames of each stack, counted from the sampled frame (perf
    /// report's `--max-stack`); nil keeps them all.
    public var maxStack: Int?

    public init(comms: Set<String> = [], pids: Set<Int32> = [], tids: Set<Int32> = [], cpus: Set<Int32> = [],
                dsos: Set<String> = [], maxStack: Int? = nil) {
        self.comms = comms
        self.pids = pids
        self.tids = tids
        self.cpus = cpus
        self.dsos = dsos
        self.maxStack = maxStack
    }

    public var isEmpty: Bool { comms.isEmpty && pids.isEmpty && tids.isEmpty && cpus.isEmpty && dsos.isEmpty && maxStack == nil }

    func accepts(_ thread: ThreadInfo) -> Bool {
        (comms.isEmpty || comms.contains(thread.comm)) && (pids.isEmpty || pids.contains(thread.pid))
            && (tids.isEmpty || tids.contains(thread.tid)) && (cpus.isEmpty || thread.cpu.map(cpus.contains) == true)
    }
}

extension Profile {
    /// The profile restricted to the samples `filter` accepts; frames and threads stay
    /// interned as they were, percentages are then relative to what is kept (as perf does).
    /// Stacks cut by `maxStack` stay apart: the report merges equal ones.
    public func filtered(by filter: ProfileFilter) -> Profile {
        guard !filter.isEmpty else { return self }
        var copy = self
        let accepted = threads.map(filter.accepts)
        var dsoAccepted: [Bool]?
        if !filter.dsos.isEmpty {
            let shown = DSONames(self)
            dsoAccepted = frames.map { frame in
                let fileName = frame.dso.split(separator: "/").last.map(String.init) ?? frame.dso
                return filter.dsos.contains(frame.dso) || filter.dsos.contains(fileName)
                    || filter.dsos.contains(shown.name(of: frame.dso))
            }
        }
        copy.stacks = stacks.filter { stack in
            guard accepted[Int(stack.thread)] else { return false }
            guard let dsoAccepted else { return true }
            guard let leaf = stack.frames.last, leaf >= 0, Int(leaf) < dsoAccepted.count else { return false }
            return dsoAccepted[Int(leaf)]
        }
        if let maxStack = filter.maxStack {
            for index in copy.stacks.indices where copy.stacks[index].frames.count > maxStack {
                copy.stacks[index].frames.removeFirst(copy.stacks[index].frames.count - maxStack)
            }
        }
        return copy
    }
}
