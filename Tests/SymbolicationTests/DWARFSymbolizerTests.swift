import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

// MARK: - Oracle and fixtures

/// llvm-symbolizer (the Swift toolchain ships one), the oracle these tests compare against.
let llvmSymbolizer: String? = {
    for path in ["/opt/swift/usr/bin/llvm-symbolizer", "/usr/bin/llvm-symbolizer"]
    where access(path, X_OK) == 0 {
        return path
    }
    return nil
}()

/// The pyenv CPython's libpython, built with full DWARF.
let libpython = "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"

/// One frame reduced to what the comparison checks.
struct FrameKey: Hashable, CustomStringConvertible {
    var function: String
    var file: String
    var line: Int
    var column: Int
    var description: String { "\(function) @ \(file):\(line):\(column)" }
}

/// Runs llvm-symbolizer on `addresses` (virtual addresses in `path`), frames innermost first
/// per address. Names are put through `Demangler` (llvm-symbolizer leaves Swift names mangled).
func llvmFrames(path: String, addresses: [UInt64], inlines: Bool = true) throws -> [[FrameKey]] {
    let tool = try #require(llvmSymbolizer)
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let input = dir + "/addresses"
    try addresses.map { "0x" + String($0, radix: 16) }.joined(separator: "\n")
        .write(toFile: input, atomically: true, encoding: .utf8)
    let output = try ProcessRunner.run(tool, ["--obj=" + path] + (inlines ? [] : ["--no-inlines"]),
                                       standardInput: FileHandle(forReadingAtPath: input)).stdout
    let blocks = output.components(separatedBy: "\n\n")
        .filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    return blocks.map { block in
        let lines = block.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        return stride(from: 0, to: lines.count - 1, by: 2).map { i in
            let parts = lines[i + 1].split(separator: ":", omittingEmptySubsequences: false)
            let file = parts.count >= 3 ? parts.dropLast(2).joined(separator: ":") : "??"
            let line = parts.count >= 3 ? Int(parts[parts.count - 2]) ?? 0 : 0
            let column = parts.count >= 3 ? Int(parts[parts.count - 1]) ?? 0 : 0
            return FrameKey(
                function: Demangler.demangle(lines[i], simplified: false), file: file, line: line,
                column: column)
        }
    }
}

/// Perch's frames in the same shape as `llvmFrames`.
func perchFrames(_ symbolizer: DWARFSymbolizer, path: String, address: UInt64) -> [FrameKey] {
    let frames = symbolizer.symbolize(path: path, virtualAddress: address)
    if frames.isEmpty { return [FrameKey(function: "??", file: "??", line: 0, column: 0)] }
    return frames.map {
        FrameKey(function: $0.function, file: $0.sourceFile ?? "??", line: $0.line ?? 0, column: $0.column ?? 0)
    }
}

/// Whether two frame lists agree on function and file:line at every level (columns ignored).
func agree(_ a: [FrameKey], _ b: [FrameKey]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.function == $1.function && $0.file == $1.file && $0.line == $1.line }
}

/// Addresses spread evenly over the bytes of the sized function symbols of `path` (from `nm`).
func addressesInFunctions(of path: String, count: Int) throws -> [UInt64] {
    var functions: [(UInt64, UInt64)] = []
    for line in try ProcessRunner.output(["nm", "-S", "--defined-only", path]).split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 4, ["t", "T", "w", "W"].contains(fields[2]),
              let start = UInt64(fields[0], radix: 16), let size = UInt64(fields[1], radix: 16), size > 0
        else { continue }
        functions.append((start, size))
    }
    functions.sort { $0.0 < $1.0 }
    let total = functions.reduce(0) { $0 + Double($1.1) }
    let step = total / Double(count)
    var result: [UInt64] = []
    var next = 0.0
    var seen = 0.0
    for (start, size) in functions {
        while next < seen + Double(size), result.count < count {
            result.append(start + UInt64(next - seen))
            next += step
        }
        seen += Double(size)
    }
    return result
}

/// Compiled `-O2 -g` fixtures with an always-inline function, by gcc, clang and swiftc.
enum InlineFixtures {
    /// `square` (always_inline, body on lines 3-5) is called from `compute` on line 10.
    static let cSource = """
        #include <stdio.h>
        static inline __attribute__((always_inline)) int square(int x) {
            int r = x * x;
            printf("sq %d\\n", r);
            return r;
        }
        __attribute__((noinline)) int compute(int n) {
            int total = 0;
            for (int i = 0; i < n; i++)
                total += square(i);
            return total;
        }
        int main(int argc, char **argv) { (void)argv; return compute(argc * 10) & 1; }

        """

    /// `mix` (@inline(__always), body on lines 13-14) is called from `driver` on line 19;
    /// `Box.countMatching` is an unspecialized generic method.
    static let swiftSource = """
        public struct Box<T> {
            public var items: [T]
            public init(_ items: [T]) { self.items = items }
            @inline(never)
            public func countMatching(_ predicate: (T) -> Bool) -> Int {
                var n = 0
                for item in items where predicate(item) { n += 1 }
                return n
            }
        }
        @inline(__always)
        func mix(_ x: Int) -> Int {
            let y = x &* 31
            return y ^ (y >> 7)
        }
        @inline(never)
        public func driver(_ values: [Int]) -> Int {
            var total = 0
            for v in values { total = total &+ mix(v) }
            return total
        }

        """

    struct Built: Sendable {
        var directory: String
        var gcc: String
        var clang: String?
        var swift: String?
        var cSourcePath: String
        var swiftSourcePath: String
    }

    static let shared: Result<Built, any Error> = Result { try build() }

    static func get() throws -> Built { try shared.get() }

    static func tool(_ candidates: [String]) -> String? {
        candidates.first { access($0, X_OK) == 0 }
    }

    private static func build() throws -> Built {
        let dir = try makeTemporaryDirectory(containing: ["inl.c": cSource, "generic.swift": swiftSource])
        let cPath = dir + "/inl.c", swiftPath = dir + "/generic.swift"
        let gcc = dir + "/inl-gcc"
        try CCompiler.compile([cPath], to: gcc, flags: ["-O2", "-g", "-Wl,--build-id"], compiler: "cc")
        var clang: String? = nil
        if let compiler = tool(["/opt/swift/usr/bin/clang", "/usr/bin/clang"]) {
            clang = dir + "/inl-clang"
            try CCompiler.compile([cPath], to: clang!, flags: ["-O2", "-g", "-Wl,--build-id"], compiler: compiler)
        }
        var swift: String? = nil
        if let compiler = tool(["/opt/swift/usr/bin/swiftc", "/usr/bin/swiftc"]) {
            swift = dir + "/libgeneric.so"
            _ = try ProcessRunner.output([compiler, "-O", "-g", "-emit-library", "-module-name", "Gen",
                         "-module-cache-path", dir + "/mc", "-o", swift!, swiftPath])
        }
        return Built(directory: dir, gcc: gcc, clang: clang, swift: swift, cSourcePath: cPath,
                     swiftSourcePath: swiftPath)
    }
}

/// Every byte address of the function whose `nm` name is `name`.
func functionAddresses(_ path: String, _ name: String) throws -> [UInt64] {
    let symbol = try #require(try nmSymbols(path)[name])
    let size = try #require(symbol.size)
    return (0..<size).map { symbol.address + $0 }
}

// MARK: - Tests

@Suite("DWARFSymbolizer")
struct DWARFSymbolizerTests {
    /// The addresses of `compute` where `square` is inlined must show it as an inlined frame with
    /// its own body's line, and `compute` with the call site's line.
    private func checkInlinedSquare(_ path: String) throws {
        let fixture = try InlineFixtures.get()
        let symbolizer = DWARFSymbolizer()
        let addresses = try functionAddresses(path, "compute")
        var inlinedHits = 0
        for address in addresses {
            let frames = symbolizer.symbolize(path: path, virtualAddress: address)
            try #require(!frames.isEmpty)
            #expect(frames.last?.function == "compute")
            #expect(frames.last?.isInlined == false)
            // clang attributes some instructions to line 0 (no particular line).
            guard frames.count == 2, frames[0].function == "square", frames[0].line != 0 else { continue }
            inlinedHits += 1
            #expect(frames[0].isInlined)
            #expect(frames[0].sourceFile == fixture.cSourcePath)
            #expect((3...5).contains(frames[0].line ?? 0), "square's body is lines 3-5: \(frames[0])")
            #expect(frames[1].sourceFile == fixture.cSourcePath)
            #expect(frames[1].line == 10, "square is called on line 10: \(frames[1])")
        }
        #expect(inlinedHits > 0, "no address of compute showed square inlined")
        // Second lookups come from the cache and must agree.
        for address in addresses.prefix(8) {
            #expect(symbolizer.symbolize(path: path, virtualAddress: address)
                == symbolizer.symbolize(path: path, virtualAddress: address))
        }
    }

    /// Every address of `function` gives exactly llvm-symbolizer's frames (file:line:column).
    private func checkAgainstLLVM(_ path: String, function: String) throws {
        let addresses = try functionAddresses(path, function)
        let expected = try llvmFrames(path: path, addresses: addresses)
        try #require(expected.count == addresses.count)
        let symbolizer = DWARFSymbolizer(names: .full)
        var mismatches: [String] = []
        for (address, want) in zip(addresses, expected) {
            let got = perchFrames(symbolizer, path: path, address: address)
            if got != want { mismatches.append("0x\(String(address, radix: 16)): perch \(got), llvm \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(addresses.count) addresses differ in \(path): \(mismatches.prefix(3))")
    }

    @Test func gccInlineFrames() throws {
        try checkInlinedSquare(try InlineFixtures.get().gcc)
    }

    @Test func clangInlineFrames() throws {
        let clang = try #require(try InlineFixtures.get().clang, "no clang")
        try checkInlinedSquare(clang)
    }

    @Test(.enabled(if: llvmSymbolizer != nil, "llvm-symbolizer is not installed"))
    func gccAndClangMatchLLVMSymbolizer() throws {
        let fixture = try InlineFixtures.get()
        try checkAgainstLLVM(fixture.gcc, function: "compute")
        try checkAgainstLLVM(fixture.gcc, function: "main")
        if let clang = fixture.clang {
            try checkAgainstLLVM(clang, function: "compute")
        }
    }

    @Test func swiftInlineFramesAndGenericNames() throws {
        let fixture = try InlineFixtures.get()
        let library = try #require(fixture.swift, "no swiftc")
        let symbolizer = DWARFSymbolizer()
        // The generic method: demangled, simplified by default and in full on request.
        let generic = try functionAddresses(library, "$s3Gen3BoxV13countMatchingySiSbxXEF")
        let frames = symbolizer.symbolize(path: library, virtualAddress: generic[4])
        #expect(frames.last?.function == "Gen.Box.countMatching((A) -> Bool) -> Int")
        #expect(frames.last?.sourceFile == fixture.swiftSourcePath)
        let full = DWARFSymbolizer(names: .full).symbolize(path: library, virtualAddress: generic[4])
        #expect(full.last?.function == "Gen.Box.countMatching((A) -> Swift.Bool) -> Swift.Int")
        let mangled = DWARFSymbolizer(names: .mangled).symbolize(path: library, virtualAddress: generic[4])
        #expect(mangled.last?.function == "$s3Gen3BoxV13countMatchingySiSbxXEF")

        // The always-inline function inside driver.
        var hits = 0
        for address in try functionAddresses(library, "$s3Gen6driverySiSaySiGF") {
            let frames = symbolizer.symbolize(path: library, virtualAddress: address)
            #expect(frames.last?.function == "Gen.driver(Array<Int>) -> Int")
            guard frames.count == 2, frames[0].function == "Gen.mix(Int) -> Int" else { continue }
            hits += 1
            #expect(frames[0].isInlined)
            #expect((13...14).contains(frames[0].line ?? 0), "mix's body is lines 13-14: \(frames[0])")
            #expect(frames[1].line == 19, "mix is called on line 19: \(frames[1])")
            #expect(frames[1].sourceFile == fixture.swiftSourcePath)
        }
        #expect(hits > 0, "no address of driver showed mix inlined")
    }

    @Test(.enabled(if: llvmSymbolizer != nil, "llvm-symbolizer is not installed"))
    func swiftMatchesLLVMSymbolizer() throws {
        let library = try #require(try InlineFixtures.get().swift, "no swiftc")
        try checkAgainstLLVM(library, function: "$s3Gen6driverySiSaySiGF")
        try checkAgainstLLVM(library, function: "$s3Gen3BoxV13countMatchingySiSbxXEF")
    }

    @Test func fileOffsetsMatchVirtualAddresses() throws {
        let path = try InlineFixtures.get().gcc
        let symbolizer = DWARFSymbolizer()
        let image = try ELFImage(path: path)
        for address in try functionAddresses(path, "compute") {
            let offset = try #require(image.fileOffset(forVirtualAddress: address))
            #expect(symbolizer.symbolize(path: path, fileOffset: offset)
                == symbolizer.symbolize(path: path, virtualAddress: address))
        }
        #expect(symbolizer.symbolize(path: path, fileOffset: 0).isEmpty)
        #expect(symbolizer.symbolize(path: path + ".missing", fileOffset: 0x1000).isEmpty)
        #expect(symbolizer.failures[path + ".missing"] != nil)
    }

    // MARK: Debug files

    /// `objcopy --only-keep-debug` + `strip` + `--add-gnu-debuglink`, then build-id lookup in a
    /// debug directory, then compressed sections: all must symbolize like the unstripped binary.
    @Test func separateDebugFiles() throws {
        let fixture = try InlineFixtures.get()
        let original = fixture.gcc
        let addresses = try functionAddresses(original, "compute") + functionAddresses(original, "main")
        let reference = DWARFSymbolizer()
        let expected = addresses.map { reference.symbolize(path: original, virtualAddress: $0) }
        #expect(expected.contains { $0.count == 2 }, "the reference has inline frames")

        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let debug = dir + "/inl.debug"
        _ = try ProcessRunner.output(["objcopy", "--only-keep-debug", original, debug])

        // 1. .gnu_debuglink, debug file in .debug/ next to the binary.
        try FileManager.default.createDirectory(atPath: dir + "/link/.debug", withIntermediateDirectories: true)
        let linked = dir + "/link/inl"
        _ = try ProcessRunner.output(["strip", "-o", linked, original])
        _ = try ProcessRunner.output(["objcopy", "--add-gnu-debuglink=" + debug, linked])
        _ = try ProcessRunner.output(["cp", debug, dir + "/link/.debug/inl.debug"])
        let viaLink = DWARFSymbolizer()
        #expect(try ELFImage(path: linked).section(named: ".symtab") == nil)
        #expect(viaLink.debugFilePath(forPath: linked) == dir + "/link/.debug/inl.debug")
        #expect(addresses.map { viaLink.symbolize(path: linked, virtualAddress: $0) } == expected)

        // 2. Build id under a debug directory; no debuglink.
        let id = try #require(try ELFImage(path: original).buildIDHex)
        let root = dir + "/root"
        let idDir = root + "/.build-id/" + id.prefix(2)
        try FileManager.default.createDirectory(atPath: idDir, withIntermediateDirectories: true)
        _ = try ProcessRunner.output(["cp", debug, idDir + "/" + id.dropFirst(2) + ".debug"])
        let stripped = dir + "/inl-stripped"
        _ = try ProcessRunner.output(["strip", "-o", stripped, original])
        #expect(DWARFSymbolizer().symbolize(path: stripped, virtualAddress: addresses[0]).allSatisfy { $0.sourceFile == nil },
                "without the debug directory there is no line information")
        let viaID = DWARFSymbolizer(debugDirectories: [root])
        #expect(viaID.debugFilePath(forPath: stripped) == idDir + "/" + id.dropFirst(2) + ".debug")
        #expect(addresses.map { viaID.symbolize(path: stripped, virtualAddress: $0) } == expected)

        // 3. Compressed debug sections (SHF_COMPRESSED) in the debug file.
        let compressedRoot = dir + "/zroot"
        let zDir = compressedRoot + "/.build-id/" + id.prefix(2)
        try FileManager.default.createDirectory(atPath: zDir, withIntermediateDirectories: true)
        let zDebug = zDir + "/" + id.dropFirst(2) + ".debug"
        _ = try ProcessRunner.output(["objcopy", "--compress-debug-sections=zlib", debug, zDebug])
        let info = try #require(try ELFImage(path: zDebug).section(named: ".debug_info"))
        #expect(info.flags & 0x800 != 0, "SHF_COMPRESSED")
        let viaCompressed = DWARFSymbolizer(debugDirectories: [compressedRoot])
        #expect(addresses.map { viaCompressed.symbolize(path: stripped, virtualAddress: $0) } == expected)
    }

    @Test func compressedSectionsInTheBinary() throws {
        let fixture = try InlineFixtures.get()
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let compressed = dir + "/inl-gz"
        try CCompiler.compile([fixture.cSourcePath], to: compressed, flags: ["-O2", "-g", "-gz=zlib"], compiler: "cc")
        let info = try #require(try ELFImage(path: compressed).section(named: ".debug_info"))
        #expect(info.flags & 0x800 != 0, "SHF_COMPRESSED")
        try checkInlinedSquare(compressed)
    }

    /// A debuglink target from another build (same name, no build ids) fails the CRC check: it
    /// is reported and not used.
    @Test func rejectsDebugFileWithWrongCRC() throws {
        let fixture = try InlineFixtures.get()
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let binary = dir + "/prog"
        let other = dir + "/other"
        try CCompiler.compile([fixture.cSourcePath], to: binary, flags: ["-O2", "-g", "-Wl,--build-id=none"], compiler: "cc")
        try CCompiler.compile([fixture.cSourcePath], to: other, flags: ["-O1", "-g", "-Wl,--build-id=none"], compiler: "cc")
        _ = try ProcessRunner.output(["objcopy", "--only-keep-debug", binary, dir + "/prog.debug"])
        _ = try ProcessRunner.output(["strip", binary])
        _ = try ProcessRunner.output(["objcopy", "--add-gnu-debuglink=" + dir + "/prog.debug", binary])
        // The right file: accepted by CRC.
        let good = DWARFSymbolizer()
        #expect(good.debugFilePath(forPath: binary) == dir + "/prog.debug")
        #expect(good.notes.isEmpty)
        // Replace it with the other build's debug info under the same name.
        _ = try ProcessRunner.output(["objcopy", "--only-keep-debug", other, dir + "/prog.debug"])
        let bad = DWARFSymbolizer()
        #expect(bad.debugFilePath(forPath: binary) == nil)
        #expect(bad.notes.contains { $0.contains(dir + "/prog.debug") && $0.contains("CRC") }, "\(bad.notes)")
    }

    @Test func crc32MatchesZlib() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { DebugFileLocator.crc32($0) } == 0xCBF4_3926)
    }

    /// libc6-dbg: libc's local symbols and lines come from its build-id debug file (whose
    /// sections are compressed).
    @Test(.enabled(if: DWARFSymbolizerTests.libcDebugFile != nil, "libc6-dbg's debug file for libc is not installed"))
    func libcLocalSymbolsViaBuildIDDebugFile() throws {
        let (libc, debug) = try #require(DWARFSymbolizerTests.libcDebugFile)
        let address = try #require(try nmSymbols(debug)["__libc_start_call_main"]?.address)
        #expect(try ELFImage(path: libc).section(named: ".symtab") == nil, "libc itself has no .symtab")
        let symbolizer = DWARFSymbolizer()
        #expect(symbolizer.debugFilePath(forPath: libc) == debug)
        let frames = symbolizer.symbolize(path: libc, virtualAddress: address + 4)
        #expect(frames.last?.function == "__libc_start_call_main")
        #expect(frames.first?.sourceFile?.contains("libc_start_call_main") == true, "\(frames)")
        #expect((frames.first?.line ?? 0) > 0, "\(frames)")
        if llvmSymbolizer != nil {
            let expected = try llvmFrames(path: debug, addresses: [address + 4])
            #expect(agree(perchFrames(symbolizer, path: libc, address: address + 4), expected[0]))
        }
    }

    static let libcDebugFile: (String, String)? = {
        let libc = "/lib/x86_64-linux-gnu/libc.so.6"
        guard let id = ELFImage.readBuildID(path: libc) else { return nil }
        let hex = ELFImage.hex(id)
        let debug = "/usr/lib/debug/.build-id/\(hex.prefix(2))/\(hex.dropFirst(2)).debug"
        return access(debug, R_OK) == 0 ? (libc, debug) : nil
    }()

    // MARK: Agreement with llvm-symbolizer on large binaries

    private func agreement(path: String, count: Int) throws -> (agreeing: Int, total: Int, samples: [String]) {
        let addresses = try addressesInFunctions(of: path, count: count)
        let expected = try llvmFrames(path: path, addresses: addresses)
        try #require(expected.count == addresses.count)
        let symbolizer = DWARFSymbolizer(names: .full)
        var agreeing = 0
        var samples: [String] = []
        for (address, want) in zip(addresses, expected) {
            let got = perchFrames(symbolizer, path: path, address: address)
            if agree(got, want) {
                agreeing += 1
            } else if samples.count < 5 {
                samples.append("0x\(String(address, radix: 16)): perch \(got) llvm \(want)")
            }
        }
        return (agreeing, addresses.count, samples)
    }

    @Test(.enabled(if: llvmSymbolizer != nil && access(libpython, R_OK) == 0,
                   "needs llvm-symbolizer and \(libpython)"))
    func agreesWithLLVMSymbolizerOnLibpython() throws {
        let result = try agreement(path: libpython, count: 4000)
        #expect(result.total >= 3900)
        #expect(Double(result.agreeing) >= 0.995 * Double(result.total),
                "\(result.agreeing)/\(result.total) agree; e.g. \(result.samples)")
    }

    /// Scopes built ahead on two threads (a batch over many compile units) give the same frames
    /// as scopes built one unit at a time on first lookup.
    @Test(.enabled(if: access(libpython, R_OK) == 0, "needs \(libpython)"))
    func preparedScopesGiveTheSameFrames() throws {
        let addresses = try addressesInFunctions(of: libpython, count: 3000)
        let lazy = DWARFSymbolizer()
        let prepared = DWARFSymbolizer()
        prepared.prepare(path: libpython, virtualAddresses: addresses)
        var differing: [String] = []
        var inlined = 0
        for address in addresses {
            let want = lazy.symbolize(path: libpython, virtualAddress: address)
            let got = prepared.symbolize(path: libpython, virtualAddress: address)
            if want.count > 1 { inlined += 1 }
            if got != want, differing.count < 3 { differing.append("0x\(String(address, radix: 16)): \(got) vs \(want)") }
        }
        #expect(differing.isEmpty, "\(differing)")
        #expect(inlined > 100, "the addresses should cover inlined frames: \(inlined)")
    }

    /// The test runner itself: Swift code compiled by swiftc with -g.
    @Test(.enabled(if: llvmSymbolizer != nil, "llvm-symbolizer is not installed"))
    func agreesWithLLVMSymbolizerOnPerchsOwnBinary() throws {
        let path = try #require(DWARFSymbolizerTests.ownBinary)
        try #require(DWARFIndex.hasDWARF(try ELFImage(path: path)), "\(path) has no DWARF")
        let result = try agreement(path: path, count: 3000)
        #expect(Double(result.agreeing) >= 0.995 * Double(result.total),
                "\(result.agreeing)/\(result.total) agree; e.g. \(result.samples)")
    }

    /// The executable this test runs in (`/proc/self/exe`).
    static let ownBinary: String? = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}
