import Foundation
import Testing
import TestSupport
@testable import Symbolication

@Suite("SymbolTable")
struct SymbolTableTests {
    @Test func lookupRoundTripsNmAddresses() throws {
        let fixture = try Fixtures.get()
        let nm = try nmSymbols(fixture.executable)
        let table = SymbolTable(image: try ELFImage(path: fixture.executable))
        #expect(table.count >= 3)
        for name in ["alpha", "beta", "main"] {
            let expected = try #require(nm[name], "nm has no \(name)")
            #expect(table.address(ofSymbolNamed: name) == expected.address)
            for probe in [expected.address, expected.address + 1, expected.address + (expected.size ?? 1) - 1] {
                let hit = try #require(table.lookup(probe), "no symbol at \(probe) for \(name)")
                #expect(hit.name == name)
                #expect(hit.start == expected.address)
                if let size = expected.size { #expect(hit.size == size) }
            }
        }
    }

    @Test func addressesOutsideFunctionsAreMisses() throws {
        let fixture = try Fixtures.get()
        let table = SymbolTable(image: try ELFImage(path: fixture.executable))
        #expect(table.lookup(0) == nil)
        #expect(table.lookup(UInt64.max) == nil)
        #expect(table.address(ofSymbolNamed: "no_such_function") == nil)
    }

    /// `zsize` has no `.size`: it extends up to the next symbol but not past its section.
    @Test func zeroSizeSymbolExtendsToNextSymbol() throws {
        let fixture = try Fixtures.get()
        let nm = try nmSymbols(fixture.executable)
        let zsize = try #require(nm["zsize"])
        #expect(zsize.size == nil) // nm prints no size for it
        let table = SymbolTable(image: try ELFImage(path: fixture.executable))
        let hit = try #require(table.lookup(zsize.address + 3))
        #expect(hit.name == "zsize")
        #expect(hit.size >= 4)
        let next = nm.values.map(\.address).filter { $0 > zsize.address }.min()
        if let next { #expect(zsize.address + hit.size <= next) }
    }

    @Test func sharedLibraryUsesDynamicAndStaticSymbols() throws {
        let fixture = try Fixtures.get()
        let nm = try nmSymbols(fixture.library)
        let table = SymbolTable(image: try ELFImage(path: fixture.library))
        for name in ["lib_gamma", "lib_delta"] {
            let expected = try #require(nm[name])
            #expect(table.lookup(expected.address + 1)?.name == name)
        }
        // A stripped copy keeps only .dynsym, which still names the exported functions.
        let stripped = fixture.directory + "/libstripped.so"
        _ = try ProcessRunner.output(["strip", "-o", stripped, fixture.library])
        let strippedImage = try ELFImage(path: stripped)
        #expect(strippedImage.section(named: ".symtab") == nil)
        let dynamic = SymbolTable(image: strippedImage)
        let gamma = try #require(nm["lib_gamma"])
        #expect(dynamic.lookup(gamma.address + 1)?.name == "lib_gamma")
    }

    @Test func systemLibraryTableIsUsable() throws {
        let candidates = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                          "/lib64/libc.so.6", "/usr/lib/aarch64-linux-gnu/libc.so.6"]
        guard let path = candidates.first(where: { (try? ELFImage(path: $0)) != nil }) else { return }
        let table = SymbolTable(image: try ELFImage(path: path))
        let count = table.count
        #expect(count > 500)
        // malloc has aliases (__libc_malloc); the least-underscored global name is kept.
        var mallocAddress: UInt64?
        for line in try ProcessRunner.output(["nm", "-D", "--defined-only", path]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 3, fields[2].split(separator: "@").first == "malloc" { mallocAddress = UInt64(fields[0], radix: 16) }
        }
        let malloc = try #require(mallocAddress)
        let hit = table.lookup(malloc)
        #expect(hit?.start == malloc)
        #expect(hit?.name == "malloc")
    }
}

/// Section headers are the file's to say: a `.plt` whose address or size reaches past 2^64
/// trapped in `SymbolTable.pltSlots`. The fixture is copied and its headers patched.
@Suite struct CraftedPLTTests {
    /// A copy of `path` whose `.plt` (and `.plt.sec`) section headers carry `address` and `size`
    /// (nil keeps the file's), found by reading the ELF64 section header table.
    static func patchedCopy(of path: String, address: UInt64?, size: UInt64?) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        func put(_ value: UInt64, at: Int) { for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) } }
        #expect(bytes[4] == 2 && bytes[5] == 1, "ELF64 little-endian")
        let tableOffset = u64(0x28), entrySize = u16(0x3A), count = u16(0x3C), namesIndex = u16(0x3E)
        let names = u64(tableOffset + namesIndex * entrySize + 0x18)
        var patched = 0
        for index in 0..<count {
            let header = tableOffset + index * entrySize
            var end = names + u32(header)
            while bytes[end] != 0 { end += 1 }
            let name = String(decoding: bytes[(names + u32(header))..<end], as: UTF8.self)
            guard name == ".plt" || name == ".plt.sec" else { continue }
            if let address { put(address, at: header + 0x10) }
            if let size { put(size, at: header + 0x20) }
            patched += 1
        }
        #expect(patched > 0, "no .plt in \(path)")
        let copy = (path as NSString).deletingLastPathComponent + "/crafted-\(address ?? 0)-\(size ?? 0)"
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        return copy
    }

    @Test(arguments: [(UInt64?(.max - 8), UInt64?(nil)), (nil, .max - 8), (.max - 0x20, .max), (.max, 0x40)])
    func hugePLTAddressesAndSizesDoNotTrap(address: UInt64?, size: UInt64?) throws {
        let fixture = try Fixtures.get()
        let crafted = try Self.patchedCopy(of: fixture.executable, address: address, size: size)
        defer { try? FileManager.default.removeItem(atPath: crafted) }
        let image = try ELFImage(path: crafted)
        _ = SymbolTable.pltSlots(of: image)
        let table = SymbolTable(image: image)
        let main = try #require(try nmSymbols(fixture.executable)["main"])
        #expect(table.lookup(main.address)?.name == "main")
        #expect(DWARFSymbolizer().symbolize(path: crafted, virtualAddress: main.address).first?.function == "main")
    }
}

/// `SymbolTable.orderByStart`, the sort behind the table.
@Suite struct SymbolTableOrderTests {
    /// The sort behind the table, on both of its paths: starts packed with their positions into
    /// one integer (a binary's range of addresses), and pairs (a range too wide to pack).
    @Test(arguments: [UInt64(1) << 20, UInt64(1) << 40, UInt64.max])
    func orderByStartSortsByStartThenPosition(range: UInt64) {
        var generator = SplitMix64(seed: range)
        for count in [0, 1, 2, 3, 17, 1000, 5000] {
            // Few distinct starts among many: equal starts must keep their positions' order.
            let distinct = (0..<max(1, count / 3)).map { _ in 0x40_0000 &+ UInt64.random(in: 0..<range, using: &generator) }
            let starts = (0..<count).map { _ in distinct[Int.random(in: 0..<distinct.count, using: &generator)] }
            let expected = starts.indices.sorted { starts[$0] != starts[$1] ? starts[$0] < starts[$1] : $0 < $1 }.map(Int32.init)
            #expect(SymbolTable.orderByStart(count: count) { starts[$0] } == expected, "\(count) starts in a range of \(range)")
        }
    }
}
