import Foundation
import PerfABI
import ProfileModel
import Symbolication
import Testing
import TestSupport

@testable import Profiling

/// Records which paths the resolver asked to load and with which build ids.
private final class AskedPaths: AddressSymbolizer {
    var prepared: [String] = []
    var expected: [String: [UInt8]] = [:]
    func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame] { [] }
    func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)? { nil }
    func prepare(path: String) { prepared.append(path) }
    func expect(buildID: [UInt8], forPath path: String) { expected[path] = buildID }
    var buildIDMismatches: [BuildIDMismatch] { [] }
}

/// `[vdso]` is read from the kept image with the build id the recording names, by the
/// symbolizer and the unwinder alike, while the profile still calls it `[vdso]`.
struct VDSOResolutionTests {
    /// An ELF file with a build id, kept under that id in a fresh cache directory.
    private func keptImage() throws -> (directory: String, path: String, buildID: [UInt8]) {
        let directory = try makeTemporaryDirectory(prefix: "perch-vdso-model", containing: ["image.c": "int image_function(int x) { return x + 1; }\n"])
        let scratch = directory + "/image.so"
        try CCompiler.compile([directory + "/image.c"], to: scratch, flags: ["-O1", "-shared", "-fPIC", "-Wl,--build-id"], compiler: "cc")
        let buildID = try #require(ELFImage.readBuildID(path: scratch))
        let path = directory + "/" + buildID.map { String(format: "%02x", $0) }.joined()
        try FileManager.default.moveItem(atPath: scratch, toPath: path)
        return (directory, path, buildID)
    }

    @Test func theVDSOIsReadFromTheKeptImageAndShownAsVDSO() throws {
        let kept = try keptImage()
        defer { try? FileManager.default.removeItem(atPath: kept.directory) }
        let model = ProcessModel(recordedBuildIDs: [("/bin/other", [1]), ("[vdso]", kept.buildID)],
                                 vdsoCache: VDSOCache(directories: [kept.directory]))
        model.mmap(pid: 1, start: 0x7fff_0000_0000, length: 0x2000, pageOffset: 0, path: "[vdso]", buildID: nil)
        let vdso = model.dso(named: "[vdso]")
        #expect(model.imagePath(ofDSO: vdso) == kept.path)
        #expect(model.expectedBuildID(ofDSO: vdso) == kept.buildID)
        #expect(model.dsos[Int(vdso)] == "[vdso]" && model.imageNotes.isEmpty)

        // The unwinder's view and the symbolizer's: the kept file, checked against the recorded id.
        let space = ModelSpace(space: model.space(of: 1), model: model)
        #expect(space.path(ofModule: vdso) == kept.path && space.buildID(ofModule: vdso) == kept.buildID)
        let symbolizer = AskedPaths()
        var resolver = StackResolver(interpretation: StackResolverTests.reading, symbolizer: symbolizer)
        let chain: [UInt64] = [CallchainContext.user.rawValue, 0x7fff_0000_0100]
        chain.withUnsafeBytes { bytes in
            var sample = SampleRecord(misc: RecordMisc(rawValue: 2))
            sample.pid = 1
            sample.tid = 1
            sample.callchain = WordArray(bytes)
            _ = resolver.node(for: sample, root: nil, model: model)
        }
        #expect(symbolizer.prepared == [kept.path])
        #expect(symbolizer.expected == [kept.path: kept.buildID])
    }

    @Test func aVDSOWithoutAKeptImageStaysItselfAndSaysWhyOnce() throws {
        let kept = try keptImage()
        defer { try? FileManager.default.removeItem(atPath: kept.directory) }
        var other = kept.buildID
        other[0] ^= 0xff
        let model = ProcessModel(recordedBuildIDs: [("[vdso]", other)], vdsoCache: VDSOCache(directories: [kept.directory]))
        let vdso = model.dso(named: "[vdso]")
        #expect(model.imagePath(ofDSO: vdso) == "[vdso]")
        #expect(model.imagePath(ofDSO: vdso) == "[vdso]")
        #expect(model.imageNotes.count == 1)
        #expect(model.imageNotes.first?.contains("build id") == true, "\(model.imageNotes)")
        // Other DSOs are their own files.
        let app = model.dso(named: "/bin/app")
        #expect(model.imagePath(ofDSO: app) == "/bin/app" && model.expectedBuildID(ofDSO: app) == nil)
    }
}
