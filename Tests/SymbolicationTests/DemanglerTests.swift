import Foundation
import Glibc
import ProfileModel
import Testing
import TestSupport
@testable import Symbolication

@Suite("Demangler")
struct DemanglerTests {
    private static let swiftDemangleCLI = "/opt/swift/usr/bin/swift-demangle"

    /// The `swift-demangle` tool's output for `name`, or nil when the tool is missing.
    private func oracle(_ name: String) throws -> String? {
        guard access(Self.swiftDemangleCLI, X_OK) == 0 else { return nil }
        let output = try ProcessRunner.output([Self.swiftDemangleCLI, "--compact", name])
        return output.trimmingCharacters(in: .newlines)
    }

    @Test(arguments: ["$sSi1poiyS2i_SitFZ", "$sSa4mainE3fooyyF", "$sSS10FoundationE4dataSSyF",
                      "_$sSi1poiyS2i_SitFZ"])
    func swiftMatchesOracle(name: String) throws {
        let full = Demangler.demangle(name, simplified: false)
        #expect(full != name)
        if let expected = try oracle(name) { #expect(full == expected) }
    }

    @Test func swiftSimplified() {
        let plus = Demangler.demangle("$sSi1poiyS2i_SitFZ")
        #expect(plus.contains("+ infix"))
        #expect(plus == "static Int.+ infix(Int, Int) -> Int")
        #expect(Demangler.demangle("$sSa4mainE3fooyyF") == "Array.foo() -> ()")
        #expect(Demangler.demangle("$sSa4mainE3fooyyF", simplified: false)
            == "(extension in main):Swift.Array.foo() -> ()")
        // Only whole qualifiers are dropped.
        #expect(Demangler.simplifySwift("MySwift.Thing(Swift.Int)") == "MySwift.Thing(Int)")
    }

    @Test func cxx() {
        #expect(Demangler.demangle("_ZN3foo3barEv") == "foo::bar()")
        #expect(Demangler.demangle("_Z5alphai") == "alpha(int)")
        #expect(Demangler.demangle("_Znot_really_mangled") == "_Znot_really_mangled")
    }

    @Test func rustLegacy() {
        #expect(Demangler.demangle("_ZN4core3fmt5write17h0123456789abcdefE") == "core::fmt::write")
        #expect(Demangler.demangle(
            "_ZN66_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17h0123456789abcdefE")
            == "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop")
        #expect(Demangler.demangle("_ZN4test8closures28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE")
            == "test::closures::{{closure}}")
    }

    /// The language comes from the mangling scheme, not from the demangled text.
    @Test func languageOfSymbols() {
        #expect(Demangler.language(ofSymbol: "$sSi1poiyS2i_SitFZ") == .swift)
        #expect(Demangler.language(ofSymbol: "_$s4main3fooyyF") == .swift)
        #expect(Demangler.language(ofSymbol: "_ZN4core3fmt5write17h0123456789abcdefE") == .rust)
        #expect(Demangler.language(ofSymbol: "_RNvCs1234_7mycrate3foo") == .rust)
        #expect(Demangler.language(ofSymbol: "_ZN3foo3barEv") == .cpp)
        #expect(Demangler.language(ofSymbol: "_ZN3foo17h0123456789abcdeXE") == .cpp, "not a hash: X is no hex digit")
        #expect(Demangler.language(ofSymbol: "main") == .unknown)
        #expect(Demangler.language(ofSymbol: "std::vector<int>::push_back") == .unknown, "plain text, however C++-looking")
    }

    @Test func otherNamesUnchanged() {
        #expect(Demangler.demangle("main") == "main")
        #expect(Demangler.demangle("") == "")
        #expect(Demangler.demangle("_RNvCs1234_7mycrate3foo") == "_RNvCs1234_7mycrate3foo") // Rust v0
        #expect(Demangler.demangle("$sGarbage") == "$sGarbage")
    }

    @Test func concurrentUse() async {
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<32 {
                group.addTask {
                    Demangler.demangle("_ZN3foo3barEv") == "foo::bar()"
                        && Demangler.demangle("$sSi1poiyS2i_SitFZ").contains("+ infix")
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
