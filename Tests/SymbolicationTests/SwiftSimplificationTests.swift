import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// `Demangler` simplifies Swift names in place in the runtime's buffer, each pass skipped when
/// the byte it looks for is absent. These check it against the rules spelled out plainly
/// (three passes over fresh arrays, as the simplification is defined), on edge cases and on
/// every Swift symbol of a real binary.
@Suite("Swift name simplification")
struct SwiftSimplificationTests {
    /// The definition: remove `(extension in M):`, then `Swift.`, then `__C.` where each starts
    /// a qualified name (after a byte that is not part of a name, before at least one more).
    static func reference(_ text: String) -> String {
        func isIdentifier(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == 0x5F || byte == 0x2E || byte == 0x24 || byte >= 0x80
        }
        var bytes = Array(text.utf8)
        let opener = Array("(extension in ".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i...].starts(with: opener) {
                var j = i + opener.count
                while j < bytes.count, bytes[j] != 0x29, bytes[j] != 0x28 { j += 1 }
                if j + 1 < bytes.count, bytes[j] == 0x29, bytes[j + 1] == 0x3A { i = j + 2; continue }
            }
            out.append(bytes[i]); i += 1
        }
        bytes = out
        for qualifier in [Array("Swift.".utf8), Array("__C.".utf8)] {
            out = []
            i = 0
            while i < bytes.count {
                if i + qualifier.count < bytes.count, i == 0 || !isIdentifier(bytes[i - 1]), bytes[i...].starts(with: qualifier) {
                    i += qualifier.count
                    continue
                }
                out.append(bytes[i]); i += 1
            }
            bytes = out
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test(arguments: [
        "(Swift.Swift.Int", "Swift.__C.Foo", "(extension in Foo):Swift.Array", "Swift.", "__C.", "x__C.Foo",
        "(extension in A):(extension in B):Swift.Int", "(extension in (x)):Swift.Int", "(extension in A)Swift.Int",
        "[Swift.Int : __C.NSObject]", "MySwift.Thing(Swift.Int)", "Swift.Swift.", "", "S", "_", "(",
        "generic specialization <Swift.Int> of (extension in Swift):Swift.Sequence.map<A>((A.Element) throws -> A1) throws -> [A1]",
        "é(Swift.Int)", "(extension in Mod):", "Swift.__C.__C.Swift.Int",
    ])
    func edgeCases(_ text: String) {
        #expect(Demangler.simplifySwift(text) == Self.reference(text))
    }

    /// Every Swift function symbol of the test runner, demangled: the in-place passes give the
    /// reference's text, and `demangle` gives the reference applied to the full name.
    @Test func everySymbolOfARealBinary() throws {
        let path = try #require(DWARFSymbolizerTests.ownBinary)
        let names = try ProcessRunner.output(["nm", "--defined-only", path]).split(separator: "\n")
            .compactMap { $0.split(separator: " ").last.map(String.init) }
            .filter { Demangler.isSwiftMangled($0) }
        #expect(names.count > 1000)
        var differing: [String] = []
        var changed = 0
        for name in names {
            let full = Demangler.demangle(name, simplified: false)
            let simplified = Demangler.demangle(name)
            if simplified != full { changed += 1 }
            if simplified != Self.reference(full), differing.count < 3 { differing.append("\(name): \(simplified)") }
        }
        #expect(differing.isEmpty, "\(differing)")
        #expect(changed > names.count / 10, "simplification should shorten many names: \(changed) of \(names.count)")
    }

    /// The byte-level prefix checks against the plain definition.
    @Test(arguments: ["$s4main", "_$s4main", "$S4main", "$e4main", "_T0x", "__T0x", "_T", "$", "_$", "", "$x",
                      "__$s", "_T1", "T0", "s4main"])
    func swiftPrefixes(_ name: String) {
        var rest = Substring(name)
        if rest.hasPrefix("_") && !rest.hasPrefix("_T0") { rest = rest.dropFirst() }
        let want = rest.hasPrefix("$s") || rest.hasPrefix("$S") || rest.hasPrefix("$e") || rest.hasPrefix("_T0")
        #expect(Demangler.isSwiftMangled(name) == want)
    }
}
