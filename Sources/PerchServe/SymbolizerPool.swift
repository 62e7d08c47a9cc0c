import NIOConcurrencyHelpers
import Symbolication

/// Symbolizers kept between the profiles a server builds, so that a profile of the same
/// processes as the last one reads only the files that changed since
/// (``DWARFSymbolizer/beginNextProfile(keepingUnused:)``). Each is used by one build at a time:
/// a build takes one (or a new one when all are in use) and gives it back when done.
final class SymbolizerPool: Sendable {
    /// A symbolizer handed from one thread to another through the lock; only its holder uses it.
    private struct Idle: @unchecked Sendable {
        let symbolizer: DWARFSymbolizer
    }

    /// At most this many are kept: one per kind of profile that can be built at once.
    private let limit: Int
    private let idle = NIOLockedValueBox<[Idle]>([])

    init(limit: Int = 2) { self.limit = limit }

    /// A symbolizer ready for a new profile.
    func take() -> DWARFSymbolizer {
        guard let kept = idle.withLockedValue({ $0.popLast() }) else { return DWARFSymbolizer() }
        kept.symbolizer.beginNextProfile()
        return kept.symbolizer
    }

    /// Keeps `symbolizer` for the next profile (dropped when `limit` are kept already).
    func give(back symbolizer: DWARFSymbolizer) {
        let returned = Idle(symbolizer: symbolizer)
        idle.withLockedValue { kept in
            if kept.count < limit { kept.append(returned) }
        }
    }
}
