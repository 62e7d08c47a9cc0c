import ProfileModel

/// Completes user stacks that went deeper than their stack copy from an earlier sample of the
/// same thread that passed through the same frame.
///
/// A frame is identified by its stack pointer and its return address. While that activation is
/// live, its callers cannot change, so the earlier sample's path from the thread's root down to
/// that frame is this sample's too. Each remembered frame maps to its node in the stack
/// ``PrefixTree`` (the path root → frame), so a stitched stack is itself a path the next sample
/// can stitch onto: chains compose, however deep the recursion.
///
/// Only frames located as return addresses are remembered and matched (the sampled pc of an
/// on-CPU sample is located exactly, a return address one byte back, so their tree keys differ).
/// A thread's memory is dropped when a FORK record names its tid (a new thread, or a tid
/// reused) and when it execs or exits; threads never share it.
///
/// Memory is bounded: per thread and start node, two generations of at most
/// ``framesPerGeneration`` frames each; when the current one is full it becomes the previous one
/// and the older is dropped. A frame seen again is moved into the current generation, so the
/// frames of a recursion that keeps being sampled stay.
struct StackStitcher {
    /// Frames per generation and thread: 2 × 8192 entries of 24 bytes (plus table slack) per thread.
    static let framesPerGeneration = 8192

    private struct Memory {
        var pid: Int32
        /// Tree nodes by frame (stack pointer, return address).
        var current = WordPairTable(capacity: 0)
        var previous = WordPairTable(capacity: 0)
    }

    /// By tid, then by the node stacks are placed under (`[on-cpu]`, `[off-cpu]`, the top).
    private var threads: [Int32: [Int32: Memory]] = [:]

    /// Forgets everything remembered of thread `tid` (it was created, exec'd or exited).
    mutating func forget(tid: Int32) {
        threads[tid] = nil
    }

    /// The node of the frame whose stack pointer and return address are these, as an earlier
    /// sample of the same thread (and process) under the same start node reached it.
    func node(pid: Int32, tid: Int32, start: Int32, stackPointer: UInt64, pc: UInt64) -> Int32? {
        guard let memory = threads[tid]?[start], memory.pid == pid else { return nil }
        return memory.current.find(stackPointer, pc) ?? memory.previous.find(stackPointer, pc)
    }

    /// A frame of a stack: its stack pointer and return address, and its node in the tree.
    struct Frame {
        var stackPointer: UInt64
        var pc: UInt64
        var node: Int32
    }

    /// Remembers that each of `frames` of thread `tid`, in order, is at its node (the thread's
    /// memory is looked up once for them all).
    mutating func remember(_ frames: some Collection<Frame>, pid: Int32, tid: Int32, start: Int32) {
        guard !frames.isEmpty else { return }
        Self.remember(frames, pid: pid, in: &threads[tid, default: [:]][start, default: Memory(pid: pid)])
    }

    /// Updates one thread's memory in place (no copy of its tables).
    private static func remember(_ frames: some Collection<Frame>, pid: Int32, in memory: inout Memory) {
        if memory.pid != pid { memory = Memory(pid: pid) }
        for frame in frames {
            if memory.current.count >= framesPerGeneration, memory.current.find(frame.stackPointer, frame.pc) == nil {
                memory.previous = memory.current
                memory.current = WordPairTable(capacity: 0)
            }
            memory.current.set(frame.stackPointer, frame.pc, value: frame.node)
        }
    }
}
