import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

@Suite("KernelSymbols")
struct KernelSymbolsTests {
    private func writeTemporary(_ text: String) throws -> String {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/kallsyms"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func parsesSyntheticFile() throws {
        // Deliberately unsorted, with data symbols, aliases, and module symbols.
        let path = try writeTemporary("""
            ffffffff81000000 T _stext
            ffffffff81000000 t local_alias
            ffffffff81000100 T do_syscall_64
            ffffffff81000080 t helper
            ffffffff82000000 D some_data
            ffffffff81000200 W weak_thing
            ffffffff81000300 T _etext
            ffffffffc0001000 t ext4_read\t[ext4]
            ffffffffc0001040 T ext4_write\t[ext4]
            ffffffffc0002000 t nf_hook\t[nf_tables]
            ffffffffc0002000 b nf_bss\t[nf_tables]
            garbage line
            
            """)
        defer { removeDirectory(containing: path) }
        let symbols = try KernelSymbols(path: path)
        #expect(!symbols.addressesHidden)
        #expect(symbols.count == 8) // _stext/local_alias collapse to one
        #expect(symbols.lookup(0xffffffff81000000)?.name == "_stext")
        #expect(symbols.lookup(0xffffffff8100007f)?.name == "_stext")
        #expect(symbols.lookup(0xffffffff81000080)?.name == "helper")
        #expect(symbols.lookup(0xffffffff810000ff)?.name == "helper")
        #expect(symbols.lookup(0xffffffff81000150)?.name == "do_syscall_64")
        #expect(symbols.lookup(0xffffffff81000250)?.name == "weak_thing")
        #expect(symbols.lookup(0xffffffff81000150)?.module == nil)
        let read = try #require(symbols.lookup(0xffffffffc0001010))
        #expect(read.name == "ext4_read")
        #expect(read.module == "ext4")
        #expect(symbols.lookup(0xffffffffc0001050)?.name == "ext4_write")
        #expect(symbols.lookup(0xffffffffc0002004)?.module == "nf_tables")
        #expect(symbols.lookup(0xffffffff80ffffff) == nil) // below the first symbol
        #expect(symbols.lookup(0xffffffffc0002000 + 8192) == nil) // far past the last one
        #expect(symbols.address(ofSymbolNamed: "helper") == 0xffffffff81000080)
        #expect(symbols.address(ofSymbolNamed: "some_data") == nil) // not text
    }

    @Test func allZeroAddressesAreHidden() throws {
        let path = try writeTemporary("""
            0000000000000000 T _stext
            0000000000000000 T do_syscall_64
            0000000000000000 t ext4_read\t[ext4]

            """)
        defer { removeDirectory(containing: path) }
        let symbols = try KernelSymbols(path: path)
        #expect(symbols.addressesHidden)
        #expect(symbols.lookup(0) == nil)
        #expect(symbols.lookup(0xffffffff81000000) == nil)
    }

    @Test func missingFileThrows() {
        #expect(throws: SymbolicationError.cannotOpen(path: "/nonexistent/kallsyms", errno: ENOENT)) {
            try KernelSymbols(path: "/nonexistent/kallsyms")
        }
    }

    @Test(.enabled(if: getuid() == 0, "needs root to see kernel addresses"))
    func parsesRealKallsyms() throws {
        let start = ContinuousClock.now
        let symbols = try KernelSymbols()
        let elapsed = ContinuousClock.now - start
        try #require(!symbols.addressesHidden, "kallsyms addresses are hidden (kptr_restrict?)")
        let count = symbols.count
        #expect(count > 1000)
        // Independent, slow parse of the same file: text symbols by address.
        // (Foundation's String(contentsOfFile:) trusts st_size, which is 0 on procfs.)
        let text = try ProcessRunner.output(["cat", "/proc/kallsyms"])
        var namesByAddress: [UInt64: [String]] = [:]
        var stext: UInt64?
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3, let address = UInt64(fields[0], radix: 16),
                  ["t", "T", "w", "W"].contains(fields[1]) else { continue }
            namesByAddress[address, default: []].append(String(fields[2]))
            if fields[2] == "_stext" { stext = address }
        }
        let stextAddress = try #require(stext)
        let hit = try #require(symbols.lookup(stextAddress))
        #expect(namesByAddress[stextAddress]?.contains(hit.name) == true)
        #expect(hit.module == nil)
        // Every symbol alone at its address is found by its own address.
        var checked = 0
        for (address, names) in namesByAddress where names.count == 1 {
            #expect(symbols.lookup(address)?.name == names[0])
            checked += 1
            if checked == 2000 { break }
        }
        #expect(checked > 100)
        // Generous bound (debug build); a String.split-based parser of ~100k lines is far slower.
        #expect(elapsed < .seconds(5))
    }
}
