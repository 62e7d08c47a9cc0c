// The libFuzzer executable: built by Scripts/fuzz with `-sanitize=fuzzer` and `-D PERCH_FUZZING`.
// The target is chosen by PERCH_FUZZ_TARGET (decoder, perfdata, collapse, folded, elf).
//
// SwiftPM links an executable's `main` to `PerchFuzz_main`, so libFuzzer's own `main` is not
// used: `PerchFuzz_main` picks the target and hands over to `LLVMFuzzerRunDriver`. In an
// ordinary `swift build` it is a stub that says how to run it.
import FuzzTargets
#if canImport(Glibc)
import Glibc
#endif

#if PERCH_FUZZING
nonisolated(unsafe) private var selected = FuzzTarget.decoder

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("PerchFuzz_main")
public func perchFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    let name = getenv("PERCH_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        printError("PERCH_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(name)')")
        return 2
    }
    selected = target
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        selected.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
#else
@main
enum PerchFuzz {
    static func main() {
        printError("PerchFuzz is a libFuzzer harness: build and run it with Scripts/fuzz TARGET SECONDS")
        exit(64)
    }
}
#endif

private func printError(_ message: String) {
    let line = message + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}
