import PerfABI
import Testing

@testable import Profiling

/// The cache in front of stack resolution: a hit must give what resolving gave, and nothing
/// resolved before an address space changed may be reused after.
struct StackCacheTests {
    /// Looks `chain` up, counting how often the cache had to resolve.
    private func node(_ cache: inout StackCache, pid: Int32 = 1, root: Int32 = -1, ip: UInt64 = 0,
                      _ chain: [UInt64], resolved: inout Int, as node: Int32) -> Int32 {
        chain.withUnsafeBytes { bytes in
            cache.node(header: (UInt64(UInt32(bitPattern: pid)) << 32, UInt64(UInt32(bitPattern: root)), ip),
                       chain: WordArray(bytes)) {
                resolved += 1
                return node
            }
        }
    }

    @Test func repeatedChainsAreResolvedOnce() {
        var cache = StackCache()
        var resolved = 0
        #expect(node(&cache, [0x10, 0x20, 0x30], resolved: &resolved, as: 7) == 7)
        #expect(node(&cache, [0x10, 0x20, 0x30], resolved: &resolved, as: 99) == 7)
        #expect(resolved == 1)
    }

    @Test func everyWordOfTheKeyCounts() {
        var cache = StackCache()
        var resolved = 0
        _ = node(&cache, [0x10, 0x20, 0x30], resolved: &resolved, as: 1)
        #expect(node(&cache, [0x10, 0x20, 0x31], resolved: &resolved, as: 2) == 2)
        #expect(node(&cache, [0x10, 0x20], resolved: &resolved, as: 3) == 3)
        #expect(node(&cache, [0x10, 0x20, 0x30, 0x40], resolved: &resolved, as: 4) == 4)
        #expect(node(&cache, pid: 2, [0x10, 0x20, 0x30], resolved: &resolved, as: 5) == 5)
        #expect(node(&cache, root: 3, [0x10, 0x20, 0x30], resolved: &resolved, as: 6) == 6)
        #expect(node(&cache, ip: 0x55, [], resolved: &resolved, as: 7) == 7)
        #expect(node(&cache, ip: 0x56, [], resolved: &resolved, as: 8) == 8)
        #expect(resolved == 8)
        // And each is remembered under its own key.
        #expect(node(&cache, [0x10, 0x20, 0x31], resolved: &resolved, as: -1) == 2)
        #expect(node(&cache, ip: 0x55, [], resolved: &resolved, as: -1) == 7)
        #expect(resolved == 8)
    }

    @Test func invalidationResolvesAgain() {
        var cache = StackCache()
        var resolved = 0
        _ = node(&cache, [0x10, 0x20], resolved: &resolved, as: 1)
        cache.invalidate()  // e.g. an exec mapped other code at these addresses
        #expect(node(&cache, [0x10, 0x20], resolved: &resolved, as: 2) == 2)
        #expect(node(&cache, [0x10, 0x20], resolved: &resolved, as: 3) == 2)
        #expect(resolved == 2)
    }

    @Test func manyDistinctChainsStayDistinct() {
        var cache = StackCache()
        var resolved = 0
        for index in 0..<20_000 {
            let chain = [UInt64(index), UInt64(index) &* 31, 0xffff_ffff_8100_0000 + UInt64(index % 7)]
            _ = node(&cache, chain, resolved: &resolved, as: Int32(index))
        }
        for index in stride(from: 0, to: 20_000, by: 97) {
            let chain = [UInt64(index), UInt64(index) &* 31, 0xffff_ffff_8100_0000 + UInt64(index % 7)]
            #expect(node(&cache, chain, resolved: &resolved, as: -1) == Int32(index))
        }
        #expect(resolved == 20_000)
    }
}
