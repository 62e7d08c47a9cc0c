import Dispatch
import Synchronization
import Symbolication

/// An ``AddressSymbolizer`` that never makes its caller wait: the first question about an
/// address starts its symbolization off the caller's thread and is answered with a placeholder,
/// `module+0xoffset` (or the kernel address); later questions get the names once they are there.
///
/// What a live view needs: the sample pass and the screen go on while a large debug file is
/// read. Each DSO (and the kernel) has a lane of its own — a serial queue with its own
/// symbolizer, made by `makeSymbolizer` — so a small program's names do not wait behind a
/// compiler's DWARF index, and no libelf/libdw handle is touched by two threads. Answers cross
/// over under a mutex.
public final class LiveSymbolizer: AddressSymbolizer, @unchecked Sendable {
    private enum Key: Hashable {
        case user(path: String, fileOffset: UInt64)
        case kernel(address: UInt64)
    }

    private enum Answer {
        case user([SymbolizedFrame])
        case kernel((frame: SymbolizedFrame, module: String?)?)
    }

    /// One DSO's (or the kernel's) symbolizer and the queue it is confined to.
    private final class Lane: @unchecked Sendable {
        let queue: DispatchQueue
        /// Touched only on `queue`.
        let symbolizer: AddressSymbolizer

        init(name: String, symbolizer: AddressSymbolizer) {
            // A thread of its own (not a pool sized to the CPUs): a compiler's DWARF index must
            // not hold back a small program's names.
            queue = DispatchQueue(label: "perch.live.symbols " + name, qos: .utility)
            self.symbolizer = symbolizer
        }
    }

    private struct Shared {
        var answers: [Key: Answer] = [:]
        var asked: Set<Key> = []
        var mismatches: [String: [BuildIDMismatch]] = [:]
        var lanes: [String: Lane] = [:]
    }

    private static let kernelLane = "[kernel]"
    private let makeSymbolizer: @Sendable () -> AddressSymbolizer
    private let shared = Mutex(Shared())

    /// - Parameter makeSymbolizer: makes the symbolizer of each lane (each is used on its lane only).
    public init(makeSymbolizer: @escaping @Sendable () -> AddressSymbolizer) {
        self.makeSymbolizer = makeSymbolizer
    }

    /// Whether the real name of this address has arrived (else `symbolize` gives the placeholder).
    func hasName(path: String, fileOffset: UInt64) -> Bool {
        shared.withLock { $0.answers[.user(path: path, fileOffset: fileOffset)] != nil }
    }

    /// Whether the real name of this kernel address has arrived.
    func hasKernelName(address: UInt64) -> Bool {
        shared.withLock { $0.answers[.kernel(address: address)] != nil }
    }

    /// Addresses asked about whose answer is not there yet.
    public var pendingCount: Int { shared.withLock { $0.asked.count - $0.answers.count } }

    public func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame] {
        if case .user(let frames)? = answer(.user(path: path, fileOffset: fileOffset), lane: path) { return frames }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return [SymbolizedFrame(function: "\(name)+0x\(String(fileOffset, radix: 16))")]
    }

    public func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)? {
        if case .kernel(let resolved)? = answer(.kernel(address: address), lane: Self.kernelLane) { return resolved }
        return (SymbolizedFrame(function: "0x\(String(address, radix: 16))"), nil)
    }

    /// Starts loading the DSO on its lane (its first sample has just been seen).
    public func prepare(path: String) {
        let lane = lane(path)
        lane.queue.async { _ = lane.symbolizer.symbolize(path: path, fileOffset: 0) }
    }

    /// Starts reading the kernel's symbols on the kernel's lane.
    public func prepareKernel() {
        let lane = lane(Self.kernelLane)
        lane.queue.async { _ = lane.symbolizer.symbolizeKernel(address: 0) }
    }

    public func expect(buildID: [UInt8], forPath path: String) {
        let lane = lane(path)
        lane.queue.async { lane.symbolizer.expect(buildID: buildID, forPath: path) }
    }

    public var buildIDMismatches: [BuildIDMismatch] { shared.withLock { $0.mismatches.values.flatMap { $0 } } }

    private func lane(_ name: String) -> Lane {
        shared.withLock { state in
            if let lane = state.lanes[name] { return lane }
            let lane = Lane(name: name, symbolizer: makeSymbolizer())
            state.lanes[name] = lane
            return lane
        }
    }

    /// The answer for `key` if its lane has given it; else asks for it once.
    private func answer(_ key: Key, lane name: String) -> Answer? {
        let (answer, ask) = shared.withLock { state -> (Answer?, Bool) in
            if let answer = state.answers[key] { return (answer, false) }
            return (nil, state.asked.insert(key).inserted)
        }
        guard ask else { return answer }
        let lane = lane(name)
        lane.queue.async { [self] in
            let answer: Answer
            switch key {
            case .user(let path, let offset): answer = .user(lane.symbolizer.symbolize(path: path, fileOffset: offset))
            case .kernel(let address): answer = .kernel(lane.symbolizer.symbolizeKernel(address: address))
            }
            let mismatches = lane.symbolizer.buildIDMismatches
            shared.withLock {
                $0.answers[key] = answer
                $0.mismatches[name] = mismatches
            }
        }
        return nil
    }
}
