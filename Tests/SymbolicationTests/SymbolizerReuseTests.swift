import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// `DWARFSymbolizer.beginNextProfile`: one instance building profile after profile (perch serve)
/// keeps the modules whose files are unchanged and reads again those that changed.
@Suite("DWARFSymbolizer reuse")
struct SymbolizerReuseTests {
    /// Two programs whose one named function differs, built once.
    static func programs() throws -> (alpha: String, beta: String) {
        let alpha = try CCompiler.compile(source: "__attribute__((noinline)) int alpha(int x) { return x * 3 + 1; }\nint main(int c, char **v) { return alpha(c); }\n",
                                          name: "reuse-alpha", flags: ["-O1", "-g", "-Wl,--build-id"])
        let beta = try CCompiler.compile(source: "__attribute__((noinline)) int beta(int x) { return x * 5 + 2; }\nint main(int c, char **v) { return beta(c); }\n",
                                         name: "reuse-beta", flags: ["-O1", "-g", "-Wl,--build-id"])
        return (alpha, beta)
    }

    /// The innermost function name at `name`'s first address in the file at `path`, found
    /// through `symbolizer`; the address is read from `file` (the program now at `path`).
    static func name(_ symbolizer: DWARFSymbolizer, path: String, function: String, in file: String) throws -> String? {
        let address = try #require(try functionAddresses(file, function).first)
        return symbolizer.symbolize(path: path, virtualAddress: address).first?.function
    }

    static func copy(_ source: String, to path: String) throws {
        // A new file renamed over the old one, as installers do: another inode.
        let temporary = path + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        #expect(rename(temporary, path) == 0)
    }

    /// `alpha` installed at a new path in a temporary directory and named there by a new
    /// symbolizer; then `body`, and the directory removed.
    static func withAlphaInstalled(
        _ body: (_ path: String, _ symbolizer: DWARFSymbolizer, _ programs: (alpha: String, beta: String)) throws -> Void
    ) throws {
        let programs = try Self.programs()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/program"
        try Self.copy(programs.alpha, to: path)
        let symbolizer = DWARFSymbolizer()
        #expect(try Self.name(symbolizer, path: path, function: "alpha", in: programs.alpha) == "alpha")
        try body(path, symbolizer, programs)
    }

    @Test func anUnchangedFileKeepsItsModuleAndAReplacedOneIsReadAgain() throws {
        try Self.withAlphaInstalled { path, symbolizer, programs in
            let (alpha, beta) = programs
            let first = try #require(symbolizer.image(forPath: path))

            symbolizer.beginNextProfile()
            #expect(symbolizer.image(forPath: path) === first, "an unchanged file was read again")
            #expect(try Self.name(symbolizer, path: path, function: "alpha", in: alpha) == "alpha")

            try Self.copy(beta, to: path)
            symbolizer.beginNextProfile()
            #expect(try Self.name(symbolizer, path: path, function: "beta", in: beta) == "beta")
            #expect(symbolizer.image(forPath: path) !== first)
        }
    }

    @Test func aFileRewrittenInPlaceIsReadAgain() throws {
        try Self.withAlphaInstalled { path, symbolizer, programs in
            // Same inode, new bytes (cp over an existing file truncates and writes it).
            _ = try ProcessRunner.output(["cp", programs.beta, path])
            symbolizer.beginNextProfile()
            #expect(try Self.name(symbolizer, path: path, function: "beta", in: programs.beta) == "beta")
        }
    }

    @Test func whatOneProfileLearntIsForgotten() throws {
        let (alpha, _) = try Self.programs()
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/program"
        let symbolizer = DWARFSymbolizer()
        // Missing in one profile, there in the next.
        #expect(symbolizer.image(forPath: path) == nil)
        #expect(symbolizer.failures[path] != nil)
        try Self.copy(alpha, to: path)
        symbolizer.beginNextProfile()
        #expect(symbolizer.failures.isEmpty)
        #expect(try Self.name(symbolizer, path: path, function: "alpha", in: alpha) == "alpha")
        // A build id the last profile expected (another build's) no longer refuses the file.
        symbolizer.expect(buildID: [1, 2, 3, 4], forPath: path)
        _ = symbolizer.symbolize(path: path, fileOffset: 0)
        #expect(symbolizer.buildIDMismatches.count == 1)
        symbolizer.beginNextProfile()
        _ = symbolizer.symbolize(path: path, fileOffset: 0)
        #expect(symbolizer.buildIDMismatches.isEmpty)
    }

    @Test func aModuleNoProfileUsedIsDropped() throws {
        let (alpha, _) = try Self.programs()
        let symbolizer = DWARFSymbolizer()
        #expect(try Self.name(symbolizer, path: alpha, function: "alpha", in: alpha) == "alpha")
        let first = try #require(symbolizer.image(forPath: alpha))
        for _ in 0..<4 { symbolizer.beginNextProfile(keepingUnused: 4) }
        #expect(symbolizer.image(forPath: alpha) === first, "kept while one of the last four profiles used it")
        for _ in 0..<5 { symbolizer.beginNextProfile(keepingUnused: 4) }
        #expect(symbolizer.image(forPath: alpha) !== first, "five profiles without it: dropped")
    }
}
