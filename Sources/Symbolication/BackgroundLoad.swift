import Dispatch

/// A value computed on Symbolication's one background thread, collected later by the thread
/// that started it.
///
/// Reports use it to overlap the slow, one-time loads (a module's DWARF index, `/proc/kallsyms`)
/// with the pass over the samples. The value is created on the background thread and handed over
/// through a semaphore: after `value` returns, only the collecting thread touches it, so it may be
/// a non-`Sendable` object such as an `ELFImage` (each libelf/libdw handle stays confined to one
/// thread at a time, which is all elfutils asks).
final class BackgroundLoad<Value>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Written once on the lane before `finished` is signalled; read only after waiting on it.
    private var result: Value?
    private var collected = false

    /// Where the work runs.
    enum Lane {
        /// Symbolication's one serial background lane (loads queue behind each other).
        case background
        /// Any free CPU, at once: for work started by a load already on the background lane
        /// (queued behind that load, it would wait for it forever).
        case anyCPU
    }

    /// Starts `work` on `lane`.
    init(lane: Lane = .background, _ work: @escaping @Sendable () -> Value) {
        let queue = lane == .background ? backgroundLane : DispatchQueue.global(qos: .userInitiated)
        queue.async { [self] in
            result = work()
            finished.signal()
        }
    }

    /// The value, waiting for the load to finish if it has not. Call from one thread only.
    var value: Value {
        if !collected {
            finished.wait()
            collected = true
        }
        return result!
    }
}

/// One serial lane for every load: the sample pass keeps another CPU busy, and loads that ran
/// side by side would compete for the same memory bandwidth.
private let backgroundLane = DispatchQueue(label: "perch.symbolication.background", qos: .userInitiated)
