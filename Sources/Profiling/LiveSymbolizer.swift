import Dispatch
import Synchronization
import Symbolication

/// An ``AddressSymbolizer`` that never makes its caller wait: the first question about an
/// address starts its symbolization on a thread of its own and is answered with a placeholder,
/// `module+0xoffset` (or the kernel address); later questions get the names once they are there.
///
/// What a live view needs: the sample pass and the screen go on while a large debug file is
/// read. The real symbolizer (a ``DWARFSymbolizer``) is confined to the worker queue, so no
/// libelf/libdw handle is touched by two threads; answers cross over under a mutex.
public final class LiveSymbolizer: AddressSymbolizer, @unchecked Sendable {
    private enum Key: Hashable {
        case user(path: String, fileOffset: UInt64)
        case kernel(address: UInt64)
    }

    private enum Answer {
        case user([SymbolizedFrame])
        case kernel((frame: SymbolizedFrame, module: String?)?)
    }

    private struct Shared {
        var answers: [Key: Answer] = [:]
        var asked: Set<Key> = []
        var mismatches: [BuildIDMismatch] = []
    }

    /// Touched only on `queue`.
    private let worker: AddressSymbolizer
    private let queue = DispatchQueue(label: "perch.live.symbols", qos: .utility)
    private let shared = Mutex(Shared())

    /// - Parameter worker: the symbolizer that does the work, used from the worker queue only.
    public init(worker: AddressSymbolizer) {
        self.worker = worker
    }

    /// Addresses asked about whose answer is not there yet.
    public var pendingCount: Int { shared.withLock { $0.asked.count - $0.answers.count } }

    public func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame] {
        let key = Key.user(path: path, fileOffset: fileOffset)
        if case .user(let frames)? = answer(key) { return frames }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return [SymbolizedFrame(function: "\(name)+0x\(String(fileOffset, radix: 16))")]
    }

    public func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)? {
        if case .kernel(let resolved)? = answer(.kernel(address: address)) { return resolved }
        return (SymbolizedFrame(function: "0x\(String(address, radix: 16))"), nil)
    }

    public func prepare(path: String) {
        queue.async { [self] in worker.prepare(path: path) }
    }

    public func prepareKernel() {
        queue.async { [self] in worker.prepareKernel() }
    }

    public func expect(buildID: [UInt8], forPath path: String) {
        queue.async { [self] in worker.expect(buildID: buildID, forPath: path) }
    }

    public var buildIDMismatches: [BuildIDMismatch] { shared.withLock { $0.mismatches } }

    /// The answer for `key` if the worker has given it; else asks for it once.
    private func answer(_ key: Key) -> Answer? {
        let (answer, ask) = shared.withLock { state -> (Answer?, Bool) in
            if let answer = state.answers[key] { return (answer, false) }
            return (nil, state.asked.insert(key).inserted)
        }
        if ask {
            queue.async { [self] in
                let answer: Answer
                switch key {
                case .user(let path, let offset): answer = .user(worker.symbolize(path: path, fileOffset: offset))
                case .kernel(let address): answer = .kernel(worker.symbolizeKernel(address: address))
                }
                let mismatches = worker.buildIDMismatches
                shared.withLock {
                    $0.answers[key] = answer
                    $0.mismatches = mismatches
                }
            }
        }
        return answer
    }
}
