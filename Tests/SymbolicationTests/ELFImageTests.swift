import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

@Suite("ELFImage")
struct ELFImageTests {
    @Test func buildIDMatchesReadelf() throws {
        let fixture = try Fixtures.get()
        for path in [fixture.executable, fixture.library] {
            let notes = try ProcessRunner.output(["readelf", "-n", path])
            let line = try #require(notes.split(separator: "\n").first { $0.contains("Build ID:") })
            let expected = try #require(line.split(separator: " ").last).trimmingCharacters(in: .whitespaces)
            let image = try ELFImage(path: path)
            #expect(image.buildIDHex == expected)
            #expect(image.buildID?.count == expected.count / 2)
            #expect(ELFImage.readBuildID(path: path) == image.buildID)
        }
    }

    @Test func fileTypes() throws {
        let fixture = try Fixtures.get()
        let exe = try ELFImage(path: fixture.executable)
        let lib = try ELFImage(path: fixture.library)
        #expect(exe.fileType == .sharedObject) // PIE
        #expect(exe.isPositionIndependent)
        #expect(!exe.isRelocatable)
        #expect(lib.fileType == .sharedObject)
        #expect(exe.section(named: ".symtab") != nil)
        #expect(exe.section(named: ".text")?.isExecutable == true)
    }

    @Test func loadSegmentsMatchReadelf() throws {
        let fixture = try Fixtures.get()
        for path in [fixture.executable, fixture.library] {
            let expected = try readelfLoadSegments(path)
            #expect(!expected.isEmpty)
            let actual = try ELFImage(path: path).loadSegments.map {
                ProgramHeader(offset: $0.fileOffset, virtualAddress: $0.virtualAddress,
                              fileSize: $0.fileSize, memorySize: $0.memorySize)
            }
            #expect(actual == expected)
        }
    }

    /// A sample in the library's text maps back to the address `nm` prints, via the
    /// program headers as `readelf -lW` shows them.
    @Test func fileOffsetTranslationAgreesWithReadelf() throws {
        let fixture = try Fixtures.get()
        let image = try ELFImage(path: fixture.library)
        let segments = try readelfLoadSegments(fixture.library)
        let gamma = try #require(try nmSymbols(fixture.library)["lib_gamma"])
        let segment = try #require(segments.first {
            gamma.address >= $0.virtualAddress && gamma.address < $0.virtualAddress + $0.fileSize
        })
        let offset = gamma.address - segment.virtualAddress + segment.offset
        #expect(image.virtualAddress(forFileOffset: offset) == gamma.address)
        #expect(image.fileOffset(forVirtualAddress: gamma.address) == offset)
        // Every segment start translates to its p_vaddr.
        for segment in segments {
            #expect(image.virtualAddress(forFileOffset: segment.offset + segment.fileSize / 2)
                == segment.virtualAddress + segment.fileSize / 2)
        }
        #expect(image.virtualAddress(forFileOffset: 1 << 40) == nil)
    }

    @Test func randomBytesAreNotELF() throws {
        let fixture = try Fixtures.get()
        let path = fixture.directory + "/random.bin"
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Make sure the random bytes do not start with the ELF magic.
        var data = bytes
        data[0] = 0
        try Data(data).write(to: URL(fileURLWithPath: path))
        #expect(throws: SymbolicationError.notELF(path: path)) { try ELFImage(path: path) }
        #expect(ELFImage.readBuildID(path: path) == nil)

        let empty = fixture.directory + "/empty.bin"
        try Data().write(to: URL(fileURLWithPath: empty))
        #expect(throws: SymbolicationError.notELF(path: empty)) { try ELFImage(path: empty) }
    }

    /// An ELF header followed by garbage: must not crash, and must yield no symbols.
    @Test func truncatedELFDoesNotCrash() throws {
        let fixture = try Fixtures.get()
        let original = try Data(contentsOf: URL(fileURLWithPath: fixture.executable))
        let path = fixture.directory + "/truncated.bin"
        var damaged = Data(original.prefix(200))
        damaged.append(Data(repeating: 0xFF, count: 100))
        try damaged.write(to: URL(fileURLWithPath: path))
        do {
            let image = try ELFImage(path: path)
            #expect(SymbolTable(image: image).isEmpty)
            _ = image.virtualAddress(forFileOffset: 0x1000)
        } catch {
            #expect(error.path == path)
        }
    }

    @Test func missingFileIsCannotOpen() {
        let path = "/nonexistent/perch/libnothing.so"
        #expect(throws: SymbolicationError.cannotOpen(path: path, errno: ENOENT)) {
            try ELFImage(path: path)
        }
        let description = SymbolicationError.cannotOpen(path: path, errno: ENOENT).description
        #expect(description.contains(path) && description.contains("No such file"))
    }
}
