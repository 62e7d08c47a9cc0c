import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

@Suite("ELFSymbolizer")
struct ELFSymbolizerTests {
    /// File offset of `vaddr` computed from `readelf -lW`, independently of ELFImage.
    private func fileOffset(of vaddr: UInt64, in path: String) throws -> UInt64 {
        let segment = try #require(try readelfLoadSegments(path).first {
            vaddr >= $0.virtualAddress && vaddr < $0.virtualAddress + $0.fileSize
        })
        return vaddr - segment.virtualAddress + segment.offset
    }

    @Test func symbolizesFileOffsets() throws {
        let fixture = try Fixtures.get()
        let symbolizer = ELFSymbolizer()
        for (path, name) in [(fixture.executable, "alpha"), (fixture.executable, "beta"),
                             (fixture.library, "lib_gamma"), (fixture.library, "lib_delta")] {
            let address = try #require(try nmSymbols(path)[name]?.address)
            let offset = try fileOffset(of: address + 2, in: path)
            let frames = symbolizer.symbolize(path: path, fileOffset: offset)
            #expect(frames == [SymbolizedFrame(function: name)])
            // Second call is served from the cache and must agree.
            #expect(symbolizer.symbolize(path: path, fileOffset: offset) == frames)
        }
        #expect(symbolizer.failures.isEmpty)
        // An offset in the ELF header is not inside any function.
        #expect(symbolizer.symbolize(path: fixture.library, fileOffset: 0).isEmpty)
    }

    @Test func recordsFailures() throws {
        let fixture = try Fixtures.get()
        let symbolizer = ELFSymbolizer()
        let missing = fixture.directory + "/does-not-exist.so"
        let text = fixture.directory + "/program.c"
        #expect(symbolizer.symbolize(path: missing, fileOffset: 0x1000).isEmpty)
        #expect(symbolizer.symbolize(path: text, fileOffset: 0x10).isEmpty)
        #expect(symbolizer.failures[missing] == .cannotOpen(path: missing, errno: ENOENT))
        #expect(symbolizer.failures[text] == .notELF(path: text))
        #expect(symbolizer.failures.count == 2)
    }

    /// A file that changed since the recording (another build id on disk) is not symbolized, and
    /// the symbolizer says which; the same file with its recorded id is.
    @Test func aChangedFileIsNotSymbolizedAndIsReported() throws {
        let fixture = try Fixtures.get()
        let id = try #require(ELFImage.readBuildID(path: fixture.library))
        let address = try #require(try nmSymbols(fixture.library)["lib_gamma"]?.address)
        let offset = try fileOffset(of: address + 2, in: fixture.library)
        var changed = id
        changed[0] ^= 0xff
        let symbolizers: [AddressSymbolizer] = [ELFSymbolizer(), DWARFSymbolizer()]
        for symbolizer in symbolizers {
            symbolizer.expect(buildID: changed, forPath: fixture.library)
            #expect(symbolizer.symbolize(path: fixture.library, fileOffset: offset).isEmpty)
            #expect(symbolizer.buildIDMismatches == [BuildIDMismatch(path: fixture.library, recorded: changed, onDisk: id)])
            #expect(symbolizer.buildIDMismatches.first?.description.contains("changed since the recording") == true)
            symbolizer.expect(buildID: id, forPath: fixture.library)
            #expect(symbolizer.symbolize(path: fixture.library, fileOffset: offset).first?.function == "lib_gamma")
            #expect(symbolizer.buildIDMismatches.count == 1, "found once")
        }
    }

    @Test func checksBuildID() throws {
        let fixture = try Fixtures.get()
        let symbolizer = ELFSymbolizer()
        let id = try #require(ELFImage.readBuildID(path: fixture.library))
        #expect(symbolizer.checkBuildID(path: fixture.library, expected: id) == true)
        var other = id
        other[0] ^= 0xff
        #expect(symbolizer.checkBuildID(path: fixture.library, expected: other) == false)
        // A library linked without a build id cannot be checked.
        let noID = fixture.directory + "/libnoid.so"
        try CCompiler.compile([fixture.directory + "/library.c"], to: noID, flags: ["-shared", "-fPIC", "-Wl,--build-id=none"],
                              compiler: "cc")
        #expect(ELFImage.readBuildID(path: noID) == nil)
        #expect(symbolizer.checkBuildID(path: noID, expected: id) == nil)
    }

    @Test func demanglesCXXSymbolsInBinaries() throws {
        let fixture = try Fixtures.get()
        let source = fixture.directory + "/cxx.cc"
        let library = fixture.directory + "/libcxx.so"
        try "namespace foo { __attribute__((noinline)) int bar(int x) { return x + 1; } }\n"
            .write(toFile: source, atomically: true, encoding: .utf8)
        try CCompiler.compile([source], to: library, flags: ["-x", "c++", "-shared", "-fPIC", "-O0"], compiler: "cc")
        let address = try #require(try nmSymbols(library)["_ZN3foo3barEi"]?.address)
        let offset = try fileOffset(of: address, in: library)
        #expect(ELFSymbolizer().symbolize(path: library, fileOffset: offset).first?.function
            == "foo::bar(int)")
    }

    @Test func kernelFromInjectedKallsyms() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/kallsyms"
        try "ffffffff81000000 T _stext\nffffffff81000100 T schedule\nffffffffc0001000 t ext4_read\t[ext4]\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let symbolizer = ELFSymbolizer(kallsymsPath: path)
        let core = try #require(symbolizer.symbolizeKernel(address: 0xffffffff81000104))
        #expect(core.frame.function == "schedule")
        #expect(core.module == nil)
        let module = try #require(symbolizer.symbolizeKernel(address: 0xffffffffc0001001))
        #expect(module.frame.function == "ext4_read")
        #expect(module.module == "ext4")
        #expect(symbolizer.symbolizeKernel(address: 0x1000) == nil)

        let broken = ELFSymbolizer(kallsymsPath: dir + "/missing")
        #expect(broken.symbolizeKernel(address: 0xffffffff81000104) == nil)
        #expect(broken.kernelFailure == .cannotOpen(path: dir + "/missing", errno: ENOENT))
    }
}
