import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// `symbolize(path:virtualAddresses:)` and `symbolize(path:fileOffsets:)` look many addresses up
/// at once and demangle their names on several threads: each must give exactly the frames the
/// one-address calls give, in the order asked, whatever the cache already held.
@Suite("Batch symbolization")
struct BatchSymbolizationTests {
    /// Addresses spread over `path`'s functions, plus repeats and addresses nothing covers.
    private func addresses(in path: String, count: Int) throws -> [UInt64] {
        let spread = try addressesInFunctions(of: path, count: count)
        return spread + spread.prefix(50) + [0, 1, UInt64.max, UInt64.max - 4096] + spread.suffix(20).reversed()
    }

    /// Compares a batch with fresh one-by-one lookups in every name style; half the addresses
    /// were looked up one by one in the batch's symbolizer first (its cache holds them).
    private func checkBatchMatchesOneByOne(_ path: String, count: Int) throws {
        let addresses = try addresses(in: path, count: count)
        for style in [Demangler.NameStyle.simplified, .full, .mangled] {
            let single = DWARFSymbolizer(names: style)
            let want = addresses.map { single.symbolize(path: path, virtualAddress: $0) }
            let cold = DWARFSymbolizer(names: style).symbolize(path: path, virtualAddresses: addresses)
            let warmed = DWARFSymbolizer(names: style)
            for address in addresses.enumerated().filter({ $0.offset % 2 == 0 }).map(\.element) {
                _ = warmed.symbolize(path: path, virtualAddress: address)
            }
            let warm = warmed.symbolize(path: path, virtualAddresses: addresses)
            #expect(cold.count == addresses.count && warm.count == addresses.count)
            var differing: [String] = []
            for (index, address) in addresses.enumerated() where cold[index] != want[index] || warm[index] != want[index] {
                if differing.count < 3 {
                    differing.append("\(style) 0x\(String(address, radix: 16)): \(cold[index]) / \(warm[index]) vs \(want[index])")
                }
            }
            #expect(differing.isEmpty, "\(differing)")
            #expect(want.contains { $0.count > 1 }, "the addresses should cover inlined frames")
            let uncovered = want.suffix(24).prefix(4).allSatisfy { $0.isEmpty }
            #expect(uncovered, "addresses nothing covers have no frames")
        }
    }

    /// Swift: thousands of names to demangle, enough for the batch to split them over threads.
    @Test func swiftBinaryBatchMatchesOneByOne() throws {
        let path = try #require(DWARFSymbolizerTests.ownBinary)
        try checkBatchMatchesOneByOne(path, count: 4000)
    }

    @Test(.enabled(if: access(libpython, R_OK) == 0, "needs \(libpython)"))
    func libpythonBatchMatchesOneByOne() throws {
        try checkBatchMatchesOneByOne(libpython, count: 3000)
    }

    /// File offsets: those outside every segment and files that cannot be opened give empty
    /// frames in their place.
    @Test func fileOffsetBatchMatchesOneByOne() throws {
        let path = try InlineFixtures.get().gcc
        let image = try ELFImage(path: path)
        var offsets = try functionAddresses(path, "compute").map { try #require(image.fileOffset(forVirtualAddress: $0)) }
        offsets.insert(0, at: 1)
        offsets.append(UInt64.max)
        let single = DWARFSymbolizer()
        let want = offsets.map { single.symbolize(path: path, fileOffset: $0) }
        let got = DWARFSymbolizer().symbolize(path: path, fileOffsets: offsets)
        #expect(got == want)
        #expect(got[1].isEmpty && got.last?.isEmpty == true)
        #expect(got.contains { !$0.isEmpty })
        let missing = DWARFSymbolizer()
        #expect(missing.symbolize(path: path + ".missing", fileOffsets: [0x1000, 0x2000]) == [[], []])
        #expect(missing.failures[path + ".missing"] != nil)
    }

    /// The protocol's default (one by one) for symbolizers without a batch path.
    @Test func elfSymbolizerBatchMatchesOneByOne() throws {
        let path = try InlineFixtures.get().gcc
        let image = try ELFImage(path: path)
        let offsets = try functionAddresses(path, "compute").map { try #require(image.fileOffset(forVirtualAddress: $0)) }
        let symbolizer: AddressSymbolizer = ELFSymbolizer()
        #expect(symbolizer.symbolize(path: path, fileOffsets: offsets) == offsets.map { ELFSymbolizer().symbolize(path: path, fileOffset: $0) })
    }
}
