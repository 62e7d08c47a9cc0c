import Foundation
import Glibc
import Testing
import TestSupport
@testable import Symbolication

/// `[vdso]` resolved through the kept copies of the kernel's image: this process's own vdso,
/// copied out of memory here, stored as `perch record` and `perf record` store it.
@Suite struct VDSOCacheTests {
    /// This process's vdso bytes (the `[vdso]` range of /proc/self/maps).
    private func runningVDSO() throws -> Data {
        // procfs files say they are empty: read to the end rather than the size stat gives.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let line = try #require(maps.split(separator: "\n").first { $0.hasSuffix("[vdso]") })
        let bounds = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt64($0, radix: 16) }
        let start = try #require(bounds.first), end = try #require(bounds.last)
        let base = try #require(UnsafeRawPointer(bitPattern: UInt(start)))
        return Data(bytes: base, count: Int(end - start))
    }

    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func theImageIsFoundByItsBuildIDAndNamesTheVDSOFunctions() throws {
        let directory = try makeTemporaryDirectory(prefix: "perch-vdso")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = try runningVDSO()
        let scratch = directory + "/scratch"
        try bytes.write(to: URL(fileURLWithPath: scratch))
        let buildID = try #require(ELFImage.readBuildID(path: scratch), "the vdso has no build id")
        let kept = directory + "/" + hex(buildID)
        try FileManager.default.moveItem(atPath: scratch, toPath: kept)

        let cache = VDSOCache(directories: [directory])
        #expect(cache.resolve(buildID: buildID) == .image(path: kept))
        // Its symbols: clock_gettime as perf names it, at the file offset = the address in the image.
        let symbolizer = ELFSymbolizer()
        let table = try #require(symbolizer.symbolTable(forPath: kept))
        let address = try #require(table.address(ofSymbolNamed: "__vdso_clock_gettime"))
        #expect(symbolizer.symbolize(path: kept, fileOffset: address + 4).first?.function == "__vdso_clock_gettime")
        // And its unwind tables.
        #expect(FunctionBoundaries(image: try ELFImage(path: kept)).functionStart(containing: address + 4) == address)
    }

    @Test func aCopyWithAnotherBuildIDOrNoneIsNotUsedAndTheReasonSaysSo() throws {
        let directory = try makeTemporaryDirectory(prefix: "perch-vdso")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = try runningVDSO()
        let scratch = directory + "/scratch"
        try bytes.write(to: URL(fileURLWithPath: scratch))
        let buildID = try #require(ELFImage.readBuildID(path: scratch))
        // A recording made on another kernel names another id; a file stored under it that is not
        // that image (here: this kernel's) is refused.
        var other = buildID
        other[0] ^= 0xff
        try FileManager.default.copyItem(atPath: scratch, toPath: directory + "/" + hex(other))
        let cache = VDSOCache(directories: [directory])
        guard case .missing(let reason) = cache.resolve(buildID: other) else {
            Issue.record("a copy with another build id was used")
            return
        }
        #expect(reason.contains(hex(other)) && reason.contains("[unknown]"), "\(reason)")
        guard case .missing(let unnamed) = cache.resolve(buildID: nil) else {
            Issue.record("a recording without a vdso build id resolved")
            return
        }
        #expect(unnamed.contains("build id of [vdso]"), "\(unnamed)")
    }

    @Test func perfsBuildIDCacheIsReadToo() throws {
        let root = try makeTemporaryDirectory(prefix: "perch-vdso")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bytes = try runningVDSO()
        let scratch = root + "/scratch"
        try bytes.write(to: URL(fileURLWithPath: scratch))
        let buildID = try #require(ELFImage.readBuildID(path: scratch))
        let perfDirectory = root + "/.debug/[vdso]/" + hex(buildID)
        try FileManager.default.createDirectory(atPath: perfDirectory, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: scratch, toPath: perfDirectory + "/vdso")
        let cache = VDSOCache(directories: [root + "/nothing-here"], perfCache: root + "/.debug")
        #expect(cache.resolve(buildID: buildID) == .image(path: perfDirectory + "/vdso"))
    }
}
