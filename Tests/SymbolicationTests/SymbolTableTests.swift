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
