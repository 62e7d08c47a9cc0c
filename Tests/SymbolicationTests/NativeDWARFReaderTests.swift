import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// Fixtures for the native DWARF reader: one C program with inlining, built by each compiler
/// in each DWARF flavour the reader handles.
enum NativeDWARFFixture {
    static let source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        struct item { const char *name; int weight; struct item *next; };
        static inline int mix(int a, int b) { return (a * 31) ^ (b >> 3); }
        static inline int fold(const char *text) { int h = 7; while (*text) h = mix(h, *text++); return h; }
        static struct item *push(struct item *list, const char *name, int weight) {
            struct item *item = (struct item *)malloc(sizeof *item);
            item->name = name; item->weight = weight + fold(name); item->next = list; return item;
        }
        __attribute__((noinline)) static int total(const struct item *list) {
            int sum = 0;
            for (; list; list = list->next) { if (list->weight & 1) sum += mix(list->weight, sum); else sum -= fold(list->name); }
            return sum;
        }
        static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
        int main(int argc, char **argv) {
            struct item *list = NULL;
            for (int i = 0; i < argc; i++) list = push(list, argv[i], i);
            qsort(argv, (size_t)argc, sizeof *argv, compare);
            printf("%d %s\\n", total(list), argv[0]);
            return 0;
        }
        """

    /// (compiler, flags) pairs: DWARF 5 and 4 from gcc and clang, compressed sections, a
    /// split-DWARF skeleton, C++ (g++ compiles `.c` as C++).
    static let builds: [(compiler: String, flags: [String])] = [
        ("gcc", ["-O2", "-g"]),
        ("gcc", ["-O2", "-gdwarf-4"]),
        ("gcc", ["-O0", "-gdwarf-2"]),
        ("clang", ["-O2", "-g"]),
        ("clang", ["-O2", "-gdwarf-4"]),
        ("gcc", ["-O2", "-g", "-gz"]),
        ("gcc", ["-O2", "-g", "-gsplit-dwarf"]),
        ("g++", ["-O2", "-g"]),
    ]

    static func build(_ compiler: String, _ flags: [String]) throws -> String {
        try CCompiler.compile(source: source, name: "native-dwarf", flags: flags, compiler: compiler)
    }

    /// Every `step`-th address of the image's `.text`.
    static func textAddresses(_ image: ELFImage, step: UInt64 = 1) throws -> [UInt64] {
        let text = try #require(image.section(named: ".text"))
        return Array(stride(from: text.address, to: text.address + text.size, by: Int(step)))
    }
}

@Suite struct NativeDWARFReaderTests {
    /// The native reader gives the frames and names libdw gives, at every address of `.text`.
    @Test(arguments: NativeDWARFFixture.builds.indices)
    func matchesLibdw(build: Int) throws {
        let (compiler, flags) = NativeDWARFFixture.builds[build]
        let binary = try NativeDWARFFixture.build(compiler, flags)
        let image = try ELFImage(path: binary)
        let native = try #require(DWARFIndex(image: image))
        #expect(native.readsNatively, "\(compiler) \(flags)")
        let libdwImage = try ELFImage(path: binary)
        let libdw = try #require(DWARFIndex(image: libdwImage, libdwOnly: true))
        #expect(native.unitCount == libdw.unitCount)
        var compared = 0
        var inlined = 0
        for address in try NativeDWARFFixture.textAddresses(image) {
            let mine = native.frames(at: address)
            let theirs = libdw.frames(at: address)
            #expect(describe(mine, native) == describe(theirs, libdw), "\(compiler) \(flags) at 0x\(String(address, radix: 16))")
            compared += 1
            inlined += (mine ?? []).filter(\.isInlined).count
        }
        #expect(compared > 100)
        // A split-DWARF skeleton has no DIEs below its unit: no inlined frames without the .dwo.
        if flags.contains("-O2") && !flags.contains("-gsplit-dwarf") {
            #expect(inlined > 0, "\(compiler) \(flags): no inlined frame seen")
        }
    }

    /// Preloading on two threads gives what loading unit by unit gives.
    @Test func preloadMatchesLazyLoading() throws {
        let image = try ELFImage(path: libpython)
        let lazy = try #require(DWARFIndex(image: image))
        let eager = try #require(DWARFIndex(image: try ELFImage(path: libpython)))
        let text = try #require(image.section(named: ".text"))
        let addresses = Array(stride(from: text.address, to: text.address + text.size, by: 997))
        eager.preload(for: addresses)
        for address in addresses {
            #expect(describe(lazy.frames(at: address), lazy) == describe(eager.frames(at: address), eager))
        }
    }

    /// libpython (gcc, DWARF 5, ~200 units): the same frames and names as libdw's.
    @Test func matchesLibdwOnLibpython() throws {
        let native = try #require(DWARFIndex(image: try ELFImage(path: libpython)))
        #expect(native.readsNatively)
        let libdw = try #require(DWARFIndex(image: try ELFImage(path: libpython), libdwOnly: true))
        let text = try #require(native.image.section(named: ".text"))
        for address in stride(from: text.address, to: text.address + text.size, by: 331) {
            #expect(describe(native.frames(at: address), native) == describe(libdw.frames(at: address), libdw),
                    "0x\(String(address, radix: 16))")
        }
    }

    /// An image whose DWARF may live in a dwz alternate file (`.gnu_debugaltlink`) is left to
    /// libdw whole, and still symbolizes as before.
    @Test func leavesDwzImagesToLibdw() throws {
        let binary = try NativeDWARFFixture.build("gcc", ["-O2", "-g"])
        let dir = try makeTemporaryDirectory(prefix: "perch-altlink")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/link"
        try Data("missing.debug\0".utf8 + [UInt8](repeating: 0xab, count: 20)).write(to: URL(fileURLWithPath: link))
        let marked = dir + "/marked"
        try ProcessRunner.output(["objcopy", "--add-section", ".gnu_debugaltlink=" + link, binary, marked])
        let index = try #require(DWARFIndex(image: try ELFImage(path: marked)))
        #expect(!index.readsNatively)
        let native = try #require(DWARFIndex(image: try ELFImage(path: binary)))
        #expect(native.readsNatively)
        for address in try NativeDWARFFixture.textAddresses(native.image, step: 5) {
            #expect(describe(index.frames(at: address), index) == describe(native.frames(at: address), native))
        }
    }

    /// Frames as text: DIE offset, name, position, inlining.
    private func describe(_ frames: [DWARFFrame]?, _ index: DWARFIndex) -> String {
        guard let frames else { return "nil" }
        return frames.map { frame in
            let name = frame.die.flatMap(index.name(ofDIE:)) ?? "??"
            return "\(frame.die.map { String($0) } ?? "-") \(name) \(frame.file ?? "??"):\(frame.line):\(frame.column) \(frame.isInlined)"
        }.joined(separator: " | ")
    }
}

/// Corrupt DWARF never crashes the reader: it yields fewer (or other) frames.
@Suite struct CorruptDWARFTests {
    enum Damage: CaseIterable {
        case truncate, flipBytes, fillOnes, zeroRuns
    }

    @Test(arguments: [".debug_info", ".debug_line", ".debug_abbrev", ".debug_rnglists", ".debug_str_offsets", ".debug_addr"],
          [0, 1])
    func survivesDamage(section name: String, build: Int) throws {
        let (compiler, flags) = [("gcc", ["-O2", "-g"]), ("clang", ["-O2", "-g"])][build]
        let binary = try NativeDWARFFixture.build(compiler, flags)
        let original = try #require(FileManager.default.contents(atPath: binary))
        let image = try ELFImage(path: binary)
        guard let section = image.section(named: name), section.size > 0 else { return }
        let addresses = try NativeDWARFFixture.textAddresses(image, step: 3)
        let dir = try makeTemporaryDirectory(prefix: "perch-corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var generator = SplitMix64(seed: 0x9e37_79b9_7f4a_7c15 &+ UInt64(name.utf8.count) &+ UInt64(build))
        for damage in Damage.allCases {
            for round in 0..<6 {
                var bytes = [UInt8](original)
                let start = Int(section.fileOffset)
                let size = Int(section.size)
                switch damage {
                case .truncate:
                    let keep = Int.random(in: 0..<size, using: &generator)
                    for index in (start + keep)..<(start + size) { bytes[index] = 0 }
                case .flipBytes:
                    for _ in 0..<(1 + round * 4) {
                        bytes[start + Int.random(in: 0..<size, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                    }
                case .fillOnes:
                    let at = Int.random(in: 0..<size, using: &generator)
                    for index in at..<min(at + 8, size) { bytes[start + index] = 0xff }
                case .zeroRuns:
                    let at = Int.random(in: 0..<size, using: &generator)
                    for index in at..<min(at + 16, size) { bytes[start + index] = 0 }
                }
                let path = dir + "/damaged-\(damage)-\(round)"
                #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
                let damaged = try ELFImage(path: path)
                guard let index = DWARFIndex(image: damaged) else { continue }
                index.preload(for: addresses.prefix(64))
                for address in addresses {
                    for frame in index.frames(at: address) ?? [] {
                        _ = frame.die.flatMap(index.name(ofDIE:))
                    }
                }
            }
        }
    }
}
