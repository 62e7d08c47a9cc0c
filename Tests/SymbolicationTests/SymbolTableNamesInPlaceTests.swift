import CElfutils
import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// `SymbolTable` reads names in place in the images' string tables: they must be right for
/// every symbol of a large binary, PLT names (made by the table) included, and still right
/// after the mapping's pages were dropped (as `DWARFSymbolizer` drops them once a module is built).
@Suite("SymbolTable names in place")
struct SymbolTableNamesInPlaceTests {
    /// Every `nm` function symbol of the test runner that the table kept at its address.
    @Test func everyNameOfARealBinaryAfterItsPagesAreDropped() throws {
        let path = try #require(DWARFSymbolizerTests.ownBinary)
        let image = try ELFImage(path: path)
        let table = SymbolTable(images: [image], aliases: .llvmSymbolizer)
        var size = 0
        let base = try #require(elf_rawfile(image.elf, &size))
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: UnsafeRawPointer(base)) & ~(page - 1)
        #expect(madvise(UnsafeMutableRawPointer(bitPattern: start), Int(bitPattern: UnsafeRawPointer(base)) + size - start,
                        MADV_DONTNEED) == 0)
        var namesByAddress: [UInt64: Set<String>] = [:]
        for line in try ProcessRunner.output(["nm", "--defined-only", path]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, ["t", "T", "w", "W"].contains(fields[1]), let address = UInt64(fields[0], radix: 16)
            else { continue }
            namesByAddress[address, default: []].insert(String(fields[2]))
        }
        var checked = 0, wrong: [String] = []
        for (address, names) in namesByAddress {
            guard let found = table.lookup(address), found.start == address else { continue }
            checked += 1
            // Of several aliases one is kept: it must be one of nm's names for the address.
            if !names.contains(found.name), wrong.count < 3 { wrong.append("\(names): \(found.name)") }
        }
        #expect(checked > 10000, "\(checked) symbols checked")
        #expect(wrong.isEmpty, "\(wrong)")
    }

    /// PLT slots are named `callee@plt` by the table itself (not in any string table).
    @Test func pltNamesFromThePool() throws {
        let fixture = try Fixtures.get()
        let image = try ELFImage(path: fixture.executable)
        let table = SymbolTable(image: image)
        let slots = SymbolTable.pltSlots(of: image).filter { !$0.name.isEmpty }
        try #require(!slots.isEmpty, "the fixture should call through its PLT")
        for slot in slots {
            #expect(table.lookup(slot.address)?.name == slot.name + "@plt")
            #expect(table.address(ofSymbolNamed: slot.name + "@plt") == slot.address)
        }
    }
}
