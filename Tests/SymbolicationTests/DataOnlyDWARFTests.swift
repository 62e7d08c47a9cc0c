import Foundation
import Testing
import TestSupport
@testable import Symbolication

/// A binary where only a data-only object was built with `-g`: its one compile unit covers no
/// code, so `DWARFIndex` has no unit to index and gives up. It used to end the libdw handle
/// there and again in `deinit` (`free(): double free`, abort).
enum DataOnlyDWARF {
    static let spin = """
        extern int table[];
        __attribute__((noinline)) int spin(int n) { int s = 0; for (int i = 0; i < n; i++) s += table[i % 4]; return s; }
        int main(int argc, char **argv) { (void)argv; return spin(argc * 1000) & 1; }
        """
    static let data = "int table[4] = {1, 2, 3, 4};\n"

    /// `gcc -O1 -c spin.c; gcc -g -O1 -c data.c; gcc spin.o data.o`, and the address of `spin`.
    static func build() throws -> (binary: String, spin: UInt64) {
        let dir = try makeTemporaryDirectory(prefix: "perch-dataonly", containing: ["spin.c": spin, "data.c": data])
        try ProcessRunner.output(["gcc", "-O1", "-c", "spin.c"], directory: dir)
        try ProcessRunner.output(["gcc", "-g", "-O1", "-c", "data.c"], directory: dir)
        try ProcessRunner.output(["gcc", "-o", "mixed", "spin.o", "data.o"], directory: dir)
        let binary = dir + "/mixed"
        let line = try #require(try ProcessRunner.output(["nm", binary]).split(separator: "\n").first { $0.hasSuffix(" T spin") })
        let address = try #require(UInt64(line.prefix { $0 != " " }, radix: 16))
        return (binary, address)
    }
}

@Suite struct DataOnlyDWARFTests {
    @Test func symbolizesABinaryWhoseOnlyDWARFIsData() throws {
        let (binary, spin) = try DataOnlyDWARF.build()
        defer { removeDirectory(containing: binary) }
        let image = try ELFImage(path: binary)
        #expect(DWARFIndex.hasDWARF(image))
        #expect(DWARFIndex(image: image) == nil)  // no unit with code: nil, handle ended once
        let symbolizer = DWARFSymbolizer()
        for _ in 0..<2 {
            let frames = symbolizer.symbolize(path: binary, virtualAddress: spin + 1)
            #expect(frames.first?.function == "spin")
            #expect(frames.first?.sourceFile == nil)
        }
    }
}
