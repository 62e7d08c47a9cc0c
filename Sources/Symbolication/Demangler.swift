import ProfileModel
import Glibc

/// Turns mangled Swift, C++ and Rust symbol names into readable ones.
///
/// Stateless and safe to call from any thread. It does not cache: callers that see the
/// same name many times (the symbolizer) keep their own cache.
///
/// - Swift (`$s`, `$S`, `$e`, `_T0`, each optionally with one more leading `_`): demangled by
///   the runtime's `swift_demangle` (libswiftCore's, linked directly).
/// - Rust legacy (`_ZN…17h<16 hex digits>E`): the length-prefixed path is decoded, the
///   `::h<hash>` suffix dropped and the `$LT$`, `$GT$`, `$u20$`, `$RF$`, `$C$`, … escapes and
///   `..` → `::` undone, as `rustc-demangle` does.
/// - C++ (`_Z`): `__cxa_demangle` from libstdc++ (looked up in the process, else `dlopen`ed).
/// - Rust v0 (`_R`) and everything else: returned unchanged.
public enum Demangler {
    /// How symbolizers print function names.
    public enum NameStyle: Sendable {
        /// Demangled; Swift names shortened without losing which function it is:
        /// `(extension in Module):` prefixes removed, and the module qualifiers `Swift.` and
        /// `__C.` (imported C types) where they begin a qualified name (`Swift.Int` → `Int`).
        /// Argument labels and types, `specialized`/`closure #n in` context and generic
        /// clauses are kept. C++ and Rust names are as with `.full`.
        case simplified
        /// Demangled in full.
        case full
        /// As the symbol table has them (llvm-symbolizer --no-demangle).
        case mangled
    }

    /// `name` in `style`: see ``demangle(_:simplified:)``.
    public static func name(_ name: String, style: NameStyle) -> String {
        switch style {
        case .simplified: demangle(name, simplified: true)
        case .full: demangle(name, simplified: false)
        case .mangled: name
        }
    }

    /// Demangles `name`; returns it unchanged when it is not mangled or cannot be demangled.
    ///
    /// - Parameter simplified: shorten Swift names (see ``NameStyle/simplified``).
    public static func demangle(_ name: String, simplified: Bool = true) -> String {
        var contiguous = name
        return contiguous.withUTF8 { bytes in
            if isSwiftMangled(bytes) {
                return demangleSwift(bytes, simplified: simplified) ?? name
            }
            // Every other scheme starts with `_Z`; plain names (C) are returned as they are.
            guard bytes.count >= 2, bytes[0] == 0x5F, bytes[1] == 0x5A else { return name }
            if bytes.count >= 3, bytes[2] == 0x4E, let rust = demangleRustLegacy(name) { // _ZN
                return rust
            }
            return demangleCXX(name) ?? name
        }
    }

    /// The language a symbol's mangling scheme belongs to; `.unknown` for plain names (C, or
    /// anything compiled without mangling).
    public static func language(ofSymbol name: String) -> SourceLanguage {
        var name = name
        return name.withUTF8 { bytes in
            if isSwiftMangled(bytes) { return .swift }
            guard bytes.count >= 2, bytes[0] == 0x5F else { return .unknown }
            if bytes[1] == 0x52 { return .rust } // _R
            guard bytes[1] == 0x5A else { return .unknown } // _Z
            if bytes.count >= 3, bytes[2] == 0x4E, hasRustHash(bytes) { return .rust } // _ZN
            return .cpp
        }
    }

    /// Whether an Itanium-mangled name ends in Rust's legacy hash (`17h` and 16 hex digits, `E`),
    /// told from the bytes at its end without demangling it.
    static func hasRustHash(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { hasRustHash($0) }
    }

    private static func hasRustHash(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard name.count >= 20 else { return false }
        let bytes = UnsafeBufferPointer(rebasing: name[(name.count - 20)...])
        guard bytes[0] == UInt8(ascii: "1"), bytes[1] == UInt8(ascii: "7"), bytes[2] == UInt8(ascii: "h"),
              bytes[19] == UInt8(ascii: "E") else { return false }
        return bytes[3..<19].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Whether `name` carries a Swift mangling prefix.
    public static func isSwiftMangled(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isSwiftMangled($0) }
    }

    /// Whether the bytes of a name carry a Swift mangling prefix: `$s`, `$S`, `$e` or `_T0`,
    /// each optionally after one more `_`.
    static func isSwiftMangled(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0x5F, bytes[1] == 0x54, bytes[2] == 0x30 { return true } // _T0
        if bytes.count >= 1, bytes[0] == 0x5F { start = 1 }
        guard bytes.count >= start + 2 else { return false }
        let first = bytes[start], second = bytes[start + 1]
        if first == 0x24 { return second == 0x73 || second == 0x53 || second == 0x65 } // $s $S $e
        return first == 0x5F && second == 0x54 && bytes.count >= start + 3 && bytes[start + 2] == 0x30
    }

    // MARK: - Runtime entry points

    private typealias CXXDemangleFn = @convention(c) (
        UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int>?,
        UnsafeMutablePointer<Int32>?
    ) -> UnsafeMutablePointer<CChar>?

    /// The resolved C entry points. Function pointers are immutable after resolution.
    private struct EntryPoints: @unchecked Sendable {
        var cxxDemangle: CXXDemangleFn?
    }

    private static let entryPoints: EntryPoints = {
        // dlsym(RTLD_DEFAULT, …): RTLD_DEFAULT is the null handle on glibc.
        var points = EntryPoints()
        var cxx = dlsym(nil, "__cxa_demangle")
        if cxx == nil, let handle = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL) {
            // Kept open for the life of the process: the function pointer must stay valid.
            cxx = dlsym(handle, "__cxa_demangle")
        }
        if let cxx { points.cxxDemangle = unsafeBitCast(cxx, to: CXXDemangleFn.self) }
        return points
    }()

    /// Demangles a Swift name with the runtime (which returns a `malloc`ed C string); the
    /// simplification shortens that buffer in place, so one `String` is made per name.
    private static func demangleSwift(_ name: UnsafeBufferPointer<UInt8>, simplified: Bool) -> String? {
        guard let base = name.baseAddress else { return nil }
        let result = base.withMemoryRebound(to: CChar.self, capacity: name.count) {
            runtimeDemangle($0, name.count, nil, nil, 0)
        }
        guard let result else { return nil }
        defer { free(result) }
        return result.withMemoryRebound(to: UInt8.self, capacity: 1) { bytes in
            var length = strlen(result)
            if simplified { length = simplifySwift(bytes, length) }
            return String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
        }
    }

    private static func demangleCXX(_ name: String) -> String? {
        guard let function = entryPoints.cxxDemangle else { return nil }
        return name.withCString { cName -> String? in
            var status: Int32 = 0
            guard let result = function(cName, nil, nil, &status) else { return nil }
            defer { free(result) }
            return status == 0 ? String(cString: result) : nil
        }
    }

    // MARK: - Swift simplification

    static func simplifySwift(_ demangled: String) -> String {
        var bytes = Array(demangled.utf8)
        let length = bytes.withUnsafeMutableBufferPointer { simplifySwift($0.baseAddress!, $0.count) }
        return String(decoding: bytes[..<length], as: UTF8.self)
    }

    /// Simplifies the `count` bytes at `bytes` in place (each pass only shortens them); returns
    /// the new length.
    private static func simplifySwift(_ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        var length = count
        length = removeExtensionPrefixes(bytes, length)
        length = removeModuleQualifier(swiftQualifier, bytes, length)
        length = removeModuleQualifier(importedQualifier, bytes, length)
        return length
    }

    private static let extensionOpener: [UInt8] = Array("(extension in ".utf8)
    private static let swiftQualifier: [UInt8] = Array("Swift.".utf8)
    private static let importedQualifier: [UInt8] = Array("__C.".utf8)

    /// Whether the `count` bytes at `bytes + at` begin with `prefix`.
    private static func matches(_ prefix: [UInt8], _ bytes: UnsafeMutablePointer<UInt8>, at: Int, _ count: Int) -> Bool {
        guard count - at >= prefix.count else { return false }
        return prefix.withUnsafeBytes { memcmp(bytes + at, $0.baseAddress!, prefix.count) == 0 }
    }

    /// The position of the first `byte` at or after `from` in the `count` bytes at `bytes`.
    private static func position(of byte: UInt8, _ bytes: UnsafeMutablePointer<UInt8>, from: Int, _ count: Int) -> Int? {
        guard from < count, let found = memchr(bytes + from, Int32(byte), count - from) else { return nil }
        return found.assumingMemoryBound(to: UInt8.self) - bytes
    }

    /// Removes every `(extension in Module):`, in place; returns the new length.
    ///
    /// Like `removeModuleQualifier`, it moves the kept runs down over what is removed: a byte
    /// at or after the read position is never overwritten before it is read.
    private static func removeExtensionPrefixes(_ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        var kept = 0, out = 0, search = 0
        while let at = position(of: 0x28, bytes, from: search, count) { // '('
            search = at + 1
            guard matches(extensionOpener, bytes, at: at, count) else { continue }
            var j = at + extensionOpener.count
            while j < count, bytes[j] != 0x29, bytes[j] != 0x28 { j += 1 }
            guard j + 1 < count, bytes[j] == 0x29, bytes[j + 1] == 0x3A else { continue } // "):"
            if out != kept { memmove(bytes + out, bytes + kept, at - kept) }
            out += at - kept
            kept = j + 2
            search = kept
        }
        if out != kept { memmove(bytes + out, bytes + kept, count - kept) }
        return out + count - kept
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F, 0x2E, 0x24: true // 0-9 A-Z a-z _ . $
        default: byte >= 0x80
        }
    }

    /// Removes `qualifier` (e.g. `Swift.`) where it starts a qualified name (after a byte that
    /// cannot be part of a name, before at least one more byte), in place; returns the new length.
    ///
    /// The byte before a match is read where the pass found it: the kept runs only move down
    /// to `out`, which stays below every removed qualifier's last byte.
    private static func removeModuleQualifier(_ qualifier: [UInt8], _ bytes: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        var kept = 0, out = 0, search = 0
        while let at = position(of: qualifier[0], bytes, from: search, count) {
            search = at + 1
            guard at + qualifier.count < count, at == 0 || !isIdentifierByte(bytes[at - 1]),
                  matches(qualifier, bytes, at: at, count) else { continue }
            if out != kept { memmove(bytes + out, bytes + kept, at - kept) }
            out += at - kept
            kept = at + qualifier.count
            search = kept
        }
        if out != kept { memmove(bytes + out, bytes + kept, count - kept) }
        return out + count - kept
    }

    // MARK: - Rust legacy

    /// Decodes `_ZN{len}{ident}…17h{16 hex}E`; `nil` when `name` is not of that shape.
    static func demangleRustLegacy(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard bytes.count > 4, bytes.last == 0x45 else { return nil } // 'E'
        var components = [ArraySlice<UInt8>]()
        var i = 3 // after "_ZN"
        while i < bytes.count, bytes[i] != 0x45 {
            var length = 0
            var sawDigit = false
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                length = length * 10 + Int(bytes[i] - 0x30)
                sawDigit = true
                i += 1
                guard length <= bytes.count else { return nil }
            }
            guard sawDigit, length > 0, i + length <= bytes.count else { return nil }
            components.append(bytes[i..<i + length])
            i += length
        }
        guard i == bytes.count - 1, components.count >= 2, let hash = components.last,
              hash.count == 17, hash.first == 0x68, // 'h'
              hash.dropFirst().allSatisfy({ isHexDigit($0) })
        else { return nil }
        var out = [UInt8]()
        for component in components.dropLast() {
            if !out.isEmpty { out.append(contentsOf: [0x3A, 0x3A]) }
            guard decodeRustComponent(component, into: &out) else { return nil }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
    }

    private static let rustEscapes: [String: UInt8] = [
        "SP": 0x40, "BP": 0x2A, "RF": 0x26, "LT": 0x3C, "GT": 0x3E,
        "LP": 0x28, "RP": 0x29, "C": 0x2C,
    ]

    private static func decodeRustComponent(_ component: ArraySlice<UInt8>, into out: inout [UInt8]) -> Bool {
        var rest = component
        // "_$" at the start protects a leading '$' from being read as a C++ identifier start.
        if rest.starts(with: [0x5F, 0x24]) { rest = rest.dropFirst() }
        while let byte = rest.first {
            if byte == 0x2E { // '.'
                if rest.dropFirst().first == 0x2E {
                    out.append(contentsOf: [0x3A, 0x3A])
                    rest = rest.dropFirst(2)
                } else {
                    out.append(0x2E)
                    rest = rest.dropFirst()
                }
            } else if byte == 0x24 { // '$'
                let body = rest.dropFirst()
                guard let close = body.firstIndex(of: 0x24) else { return false }
                let escape = body[body.startIndex..<close]
                if let mapped = rustEscapes[String(decoding: escape, as: UTF8.self)] {
                    out.append(mapped)
                } else if escape.first == 0x75, escape.count > 1, // 'u' + hex code point
                          let value = UInt32(String(decoding: escape.dropFirst(), as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(value)
                {
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                } else {
                    return false
                }
                rest = body[(close + 1)...]
            } else {
                out.append(byte)
                rest = rest.dropFirst()
            }
        }
        return true
    }
}

/// The Swift runtime's demangler, linked directly as the standard library declares it: `dlsym`
/// does not find it in a binary built with `--static-swift-stdlib`, whose runtime symbols are not
/// exported (names then stayed mangled).
@_silgen_name("swift_demangle")
private func runtimeDemangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int, _ outputBuffer: UnsafeMutablePointer<CChar>?,
    _ outputBufferSize: UnsafeMutablePointer<Int>?, _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?
