import Foundation
import Glibc
import TestSupport

/// Small C programs compiled once per test run into a temporary directory.
struct Fixture: Sendable {
    let directory: String
    /// PIE executable with `alpha`, `beta` (noinline) and `zsize` (no `.size`), `-g -O0`.
    let executable: String
    /// Shared library with `lib_gamma`, `lib_delta`.
    let library: String
}

func removeDirectory(containing path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

enum Fixtures {
    static let shared: Result<Fixture, any Error> = Result { try build() }

    static func get() throws -> Fixture { try shared.get() }

    private static let programSource = """
        #include <stdio.h>
        __attribute__((noinline)) int alpha(int x) { return x * 3 + 1; }
        __attribute__((noinline)) int beta(int x) { return alpha(x) + 2; }
        /* A function symbol without .size: its extent must come from the next symbol. */
        __asm__(".text\\n.globl zsize\\n.type zsize,@function\\nzsize:\\n\\tnop\\n\\tnop\\n\\tnop\\n\\tret\\n");
        int main(int argc, char **argv) { (void)argv; printf("%d\\n", beta(argc)); return 0; }
        """

    private static let librarySource = """
        __attribute__((noinline)) int lib_gamma(int x) { return x + 7; }
        int lib_delta(int x) { return lib_gamma(x) * 2; }
        """

    private static func build() throws -> Fixture {
        let dir = try makeTemporaryDirectory(containing: ["program.c": programSource, "library.c": librarySource])
        let programC = dir + "/program.c", libraryC = dir + "/library.c"
        let executable = dir + "/program"
        let library = dir + "/libfixture.so"
        try CCompiler.compile([programC], to: executable, flags: ["-g", "-O0", "-fPIE", "-pie", "-Wl,--build-id"], compiler: "cc")
        try CCompiler.compile([libraryC], to: library, flags: ["-g", "-O0", "-shared", "-fPIC", "-Wl,--build-id"], compiler: "cc")
        return Fixture(directory: dir, executable: executable, library: library)
    }
}

struct ProgramHeader: Equatable {
    var offset: UInt64
    var virtualAddress: UInt64
    var fileSize: UInt64
    var memorySize: UInt64
}

/// The LOAD lines of `readelf -lW`.
func readelfLoadSegments(_ path: String) throws -> [ProgramHeader] {
    try ProcessRunner.output(["readelf", "-lW", path]).split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        // LOAD 0x000000 0x0000000000000000 0x0000000000000000 0x000548 0x000548 R   0x1000
        guard fields.count >= 6, fields[0] == "LOAD" else { return nil }
        func hex(_ s: Substring) -> UInt64? { UInt64(s.dropFirst(2), radix: 16) }
        guard let offset = hex(fields[1]), let vaddr = hex(fields[2]),
              let filesz = hex(fields[4]), let memsz = hex(fields[5])
        else { return nil }
        return ProgramHeader(offset: offset, virtualAddress: vaddr, fileSize: filesz, memorySize: memsz)
    }
}
