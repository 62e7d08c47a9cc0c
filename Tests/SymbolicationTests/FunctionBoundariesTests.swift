import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// Function boundaries from `.eh_frame` FDEs, and the `module+0x...` names they give code no
/// symbol covers: a C fixture compiled here, stripped with `strip`, its functions' offsets
/// known from `nm` on the unstripped copy.
@Suite struct FunctionBoundariesTests {
    private static let source = """
        #include <stdio.h>
        __attribute__((noinline)) int one(int x) { for (int i = 0; i < x; i++) x ^= i * 7; return x; }
        __attribute__((noinline)) int two(int x) { return one(x) * 3 + 1; }
        __attribute__((noinline)) static int three(int x) { return two(x) - one(x + 1); }
        __attribute__((noinline)) int four(int x) { return three(x) ^ 0x55; }
        int main(int argc, char **argv) { (void)argv; printf("%d\\n", four(argc)); return 0; }
        """

    /// The fixture built with `.eh_frame_hdr` (the default) and without, each with a stripped copy.
    private struct Built {
        var unstripped: String
        var stripped: String
        var strippedWithoutHeader: String
    }

    private static let built: Result<Built, any Error> = Result {
        let directory = try makeTemporaryDirectory(containing: ["functions.c": source])
        let unstripped = directory + "/functions", stripped = directory + "/functions-stripped"
        let noHeader = directory + "/functions-nohdr", noHeaderStripped = directory + "/functions-nohdr-stripped"
        let flags = ["-O1", "-fPIE", "-pie", "-Wl,--build-id", "-fasynchronous-unwind-tables"]
        try CCompiler.compile([directory + "/functions.c"], to: unstripped, flags: flags, compiler: "cc")
        try CCompiler.compile([directory + "/functions.c"], to: noHeader, flags: flags + ["-Wl,--no-eh-frame-hdr"], compiler: "cc")
        try ProcessRunner.output(["strip", "-o", stripped, unstripped])
        try ProcessRunner.output(["strip", "-o", noHeaderStripped, noHeader])
        return Built(unstripped: unstripped, stripped: stripped, strippedWithoutHeader: noHeaderStripped)
    }

    /// Function addresses and sizes by name, from `nm -S` on the unstripped file.
    private func functions(_ path: String) throws -> [String: (address: UInt64, size: UInt64)] {
        var result: [String: (UInt64, UInt64)] = [:]
        for line in try ProcessRunner.output(["nm", "-S", path]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 4, fields[2] == "T" || fields[2] == "t",
                  let address = UInt64(fields[0], radix: 16), let size = UInt64(fields[1], radix: 16) else { continue }
            result[String(fields[3])] = (address, size)
        }
        return result
    }

    @Test func strippedFileHasNoSymbolsButItsFDEsGiveEachFunctionStart() throws {
        let built = try Self.built.get()
        let known = try functions(built.unstripped)
        let image = try ELFImage(path: built.stripped)
        #expect(SymbolTable(image: image).lookup(try #require(known["one"]).address) == nil, "the stripped copy still names one")
        let boundaries = FunctionBoundaries(image: image)
        #expect(boundaries.source == .searchTable)
        for name in ["one", "two", "three", "four", "main"] {
            let function = try #require(known[name], "nm has no \(name)")
            // Every byte of the function maps to its start; the byte after it does not.
            for address in [function.address, function.address + function.size / 2, function.address + function.size - 1] {
                #expect(boundaries.functionStart(containing: address) == function.address,
                        "\(name) at 0x\(String(address, radix: 16))")
            }
        }
    }

    @Test func walkingEhFrameGivesWhatTheSearchTableGives() throws {
        let built = try Self.built.get()
        let withHeader = FunctionBoundaries(image: try ELFImage(path: built.stripped))
        let walked = FunctionBoundaries(image: try ELFImage(path: built.strippedWithoutHeader))
        #expect(walked.source == .ehFrame)
        #expect(try ELFImage(path: built.strippedWithoutHeader).section(named: ".eh_frame_hdr") == nil)
        // Same code, linked alike: the same functions at the same places.
        #expect(walked.count == withHeader.count && walked.count >= 5)
        let known = try functions(built.unstripped)
        for name in ["one", "two", "three", "four"] {
            let function = try #require(known[name])
            #expect(walked.functionStart(containing: function.address + 1) == function.address, "\(name)")
        }
        // Both readings agree with readelf's list of FDEs.
        let readelf = try ProcessRunner.output(["readelf", "--debug-dump=frames", built.stripped])
        let starts = readelf.split(separator: "\n").compactMap { line -> UInt64? in
            guard line.contains(" FDE "), let range = line.split(separator: " ").last(where: { $0.hasPrefix("pc=") }) else { return nil }
            return UInt64(range.dropFirst(3).prefix { $0 != "." }, radix: 16)
        }
        #expect(Set(starts) == Set(withHeader.starts), "readelf: \(starts.map { String($0, radix: 16) })")
    }

    @Test func unnamedFunctionsAreNamedByModuleAndFileOffsetOfTheirStart() throws {
        let built = try Self.built.get()
        let known = try functions(built.unstripped)
        let image = try ELFImage(path: built.stripped)
        let names = UnnamedFunctions()
        let two = try #require(known["two"]), four = try #require(known["four"])
        let twoStart = try #require(image.fileOffset(forVirtualAddress: two.address))
        let fourStart = try #require(image.fileOffset(forVirtualAddress: four.address))
        let expected = "functions-stripped+0x\(String(twoStart, radix: 16))"
        // Every offset in `two` gets the one name; `four` another.
        for offset in twoStart..<(twoStart + two.size) {
            #expect(names.name(path: built.stripped, fileOffset: offset, expectedBuildID: nil, moduleName: "functions-stripped") == expected)
        }
        #expect(names.name(path: built.stripped, fileOffset: fourStart + 2, expectedBuildID: nil, moduleName: "functions-stripped")
                == "functions-stripped+0x\(String(fourStart, radix: 16))")
        // Not code: no name. Another build of the file: no name either.
        #expect(names.name(path: built.stripped, fileOffset: 0, expectedBuildID: nil, moduleName: "x") == nil)
        let other = UnnamedFunctions()
        #expect(other.name(path: built.stripped, fileOffset: twoStart, expectedBuildID: [1, 2, 3], moduleName: "x") == nil)
        #expect(other.name(path: built.stripped, fileOffset: twoStart, expectedBuildID: image.buildID, moduleName: "x") != nil)
    }

    /// A file without a section table (as `sstrip` leaves it): `.eh_frame_hdr` found through
    /// `PT_GNU_EH_FRAME`, `.eh_frame` through the header.
    @Test func filesWithoutSectionHeadersAreReadThroughTheProgramHeader() throws {
        let built = try Self.built.get()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: built.stripped))
        bytes.replaceSubrange(0x28..<0x30, with: Data(count: 8))  // e_shoff
        bytes.replaceSubrange(0x3c..<0x40, with: Data(count: 4))  // e_shnum, e_shstrndx
        let directory = try makeTemporaryDirectory(prefix: "perch-fde")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/no-sections"
        try bytes.write(to: URL(fileURLWithPath: path))
        let image = try ELFImage(path: path)
        #expect(image.sections.isEmpty)
        let boundaries = FunctionBoundaries(image: image)
        let reference = FunctionBoundaries(image: try ELFImage(path: built.stripped))
        #expect(boundaries.source == .searchTable)
        #expect(boundaries.starts == reference.starts && boundaries.ends == reference.ends)
    }

    /// A position-dependent executable: addresses are 0x400000 and up, names are file offsets.
    @Test func positionDependentExecutablesAreNamedByFileOffset() throws {
        let directory = try makeTemporaryDirectory(containing: ["functions.c": Self.source])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let unstripped = directory + "/fixed", stripped = directory + "/fixed-stripped"
        try CCompiler.compile([directory + "/functions.c"], to: unstripped, flags: ["-O1", "-no-pie", "-fno-pie"], compiler: "cc")
        try ProcessRunner.output(["strip", "-o", stripped, unstripped])
        let image = try ELFImage(path: stripped)
        #expect(!image.isPositionIndependent)
        let four = try #require(try functions(unstripped)["four"])
        let start = try #require(image.fileOffset(forVirtualAddress: four.address))
        #expect(start < four.address, "a file offset, not the 0x400000-based address")
        #expect(UnnamedFunctions().name(path: stripped, fileOffset: start + 3, expectedBuildID: nil, moduleName: "fixed")
                == "fixed+0x\(String(start, radix: 16))")
    }

    /// An FDE whose CIE pointer leads to an FDE (here itself: a cycle) is malformed, not followed
    /// on: following it recursed until the stack ran out (the random test below found it).
    @Test func anFDEPointingAtAnFDEIsMalformed() throws {
        let built = try Self.built.get()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: built.strippedWithoutHeader))
        let frames = try #require(try ELFImage(path: built.strippedWithoutHeader).section(named: ".eh_frame"))
        func word(at offset: Int) -> UInt32 { bytes[offset..<offset + 4].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * $1.offset) } }
        // The first entry is a CIE (32-bit length, id 0); the FDE after it gets CIE pointer 4:
        // counted back from its own position, that is the FDE's own start.
        let cie = Int(frames.fileOffset)
        #expect(word(at: cie + 4) == 0)
        let fde = cie + 4 + Int(word(at: cie))
        #expect(word(at: fde + 4) != 0, "an FDE")
        bytes.replaceSubrange(fde + 4..<fde + 8, with: Data([4, 0, 0, 0]))
        let directory = try makeTemporaryDirectory(prefix: "perch-fde")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/cycle"
        try bytes.write(to: URL(fileURLWithPath: path))
        let boundaries = FunctionBoundaries(image: try ELFImage(path: path))
        let intact = FunctionBoundaries(image: try ELFImage(path: built.strippedWithoutHeader))
        #expect(boundaries.count < intact.count)
    }

    /// Corrupted unwind tables: any byte of `.eh_frame_hdr` and `.eh_frame` changed, the table is
    /// read without a crash, and what it gives lies inside the file's code.
    @Test func corruptedTablesAreReadSafely() throws {
        let built = try Self.built.get()
        let original = try Data(contentsOf: URL(fileURLWithPath: built.stripped))
        let image = try ELFImage(path: built.stripped)
        let header = try #require(image.section(named: ".eh_frame_hdr")), frames = try #require(image.section(named: ".eh_frame"))
        let directory = try makeTemporaryDirectory(prefix: "perch-fde")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SplitMix64.replayable("corruptedTablesAreReadSafely")
        let span = Int(header.fileOffset)..<Int(frames.fileOffset + frames.size)
        for round in 0..<200 {
            var bytes = original
            for _ in 0..<(1 + round % 4) {
                bytes[Int.random(in: span, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if round % 10 == 0 { bytes[Int(frames.fileOffset)..<Int(frames.fileOffset) + 4] = Data([0xff, 0xff, 0xff, 0xff]) }
            let path = directory + "/mutant"
            try bytes.write(to: URL(fileURLWithPath: path))
            let boundaries = FunctionBoundaries(image: try ELFImage(path: path))
            for (start, end) in zip(boundaries.starts, boundaries.ends) { #expect(end > start) }
            #expect(boundaries.starts == boundaries.starts.sorted())
        }
    }
}
