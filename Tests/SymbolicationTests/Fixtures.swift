import Foundation
import Glibc

/// Small C programs compiled once per test run into a temporary directory.
struct Fixture: Sendable {
    let directory: String
    /// PIE executable with `alpha`, `beta` (noinline) and `zsize` (no `.size`), `-g -O0`.
    let executable: String
    /// Shared library with `lib_gamma`, `lib_delta`.
    let library: String
}

struct CommandFailed: Error, CustomStringConvertible {
    let command: [String]
    let status: Int32
    let output: String
    var description: String { "\(command.joined(separator: " ")) exited \(status): \(output)" }
}

/// Runs `arguments` (resolved via /usr/bin/env) and returns standard output.
func run(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailed(
            command: arguments, status: process.terminationStatus,
            output: String(decoding: errData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self)
}

func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/perch-sym-XXXXXX".utf8CString)
    let path: String? = template.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
        return String(cString: base)
    }
    guard let path else { throw CommandFailed(command: ["mkdtemp"], status: errno, output: "") }
    return path
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
        let dir = try makeTemporaryDirectory()
        let programC = dir + "/program.c"
        let libraryC = dir + "/library.c"
        try programSource.write(toFile: programC, atomically: true, encoding: .utf8)
        try librarySource.write(toFile: libraryC, atomically: true, encoding: .utf8)
        let executable = dir + "/program"
        let library = dir + "/libfixture.so"
        _ = try run(["cc", "-g", "-O0", "-fPIE", "-pie", "-Wl,--build-id", "-o", executable, programC])
        _ = try run(["cc", "-g", "-O0", "-shared", "-fPIC", "-Wl,--build-id", "-o", library, libraryC])
        return Fixture(directory: dir, executable: executable, library: library)
    }
}

/// `nm` symbol addresses (and sizes with `-S`) by name, defined text symbols only.
func nmSymbols(_ path: String) throws -> [String: (address: UInt64, size: UInt64?)] {
    var result: [String: (address: UInt64, size: UInt64?)] = [:]
    for line in try run(["nm", "-S", path]).split(separator: "\n") {
        let fields = line.split(separator: " ")
        // "addr size T name" or "addr T name"
        guard fields.count >= 3, let address = UInt64(fields[0], radix: 16) else { continue }
        let type = fields[fields.count - 2]
        guard type == "T" || type == "t" else { continue }
        let size = fields.count == 4 ? UInt64(fields[1], radix: 16) : nil
        result[String(fields[fields.count - 1])] = (address, size)
    }
    return result
}

struct ProgramHeader: Equatable {
    var offset: UInt64
    var virtualAddress: UInt64
    var fileSize: UInt64
    var memorySize: UInt64
}

/// The LOAD lines of `readelf -lW`.
func readelfLoadSegments(_ path: String) throws -> [ProgramHeader] {
    try run(["readelf", "-lW", path]).split(separator: "\n").compactMap { line in
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
