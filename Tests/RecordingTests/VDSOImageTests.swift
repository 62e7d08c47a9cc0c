import Foundation
import Testing
import TestSupport
@testable import Recording

/// The vdso copied out of this process and kept by build id, as `perch record` does.
@Suite struct VDSOImageTests {
    @Test func theRunningVDSOIsCopiedWithItsBuildIDAndKeptOnce() throws {
        let vdso = try #require(VDSOImage.running(), "no [vdso] in /proc/self/maps")
        #expect(vdso.bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]))
        #expect(vdso.buildID.count >= 16)
        let directory = NSTemporaryDirectory() + "perch-vdso-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try vdso.store(in: directory + "/perch/vdso")
        #expect(path == directory + "/perch/vdso/" + vdso.buildIDHex)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(vdso.bytes))
        // Only the kept file is left (no temporary), and storing again leaves it as it is.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/perch/vdso") == [vdso.buildIDHex])
        let modified = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
        _ = try vdso.store(in: directory + "/perch/vdso")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date == modified)
        // readelf agrees on the id.
        let readelf = Process()
        readelf.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        readelf.arguments = ["readelf", "-n", path]
        let pipe = Pipe()
        readelf.standardOutput = pipe
        try readelf.run()
        let notes = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        readelf.waitUntilExit()
        #expect(notes.contains("Build ID: \(vdso.buildIDHex)"), "\(notes)")
    }

    @Test func truncatedOrDamagedImagesGiveNoBuildIDOrTheRightOne() throws {
        let vdso = try #require(VDSOImage.running())
        for length in stride(from: 0, through: vdso.bytes.count, by: 7) {
            let id = VDSOImage.buildID(ofImage: Array(vdso.bytes.prefix(length)))
            #expect(id == nil || id == vdso.buildID)
        }
        var generator = SplitMix64.replayable("VDSOImage damaged images")
        for _ in 0..<500 {
            var bytes = vdso.bytes
            for _ in 0..<3 { bytes[Int.random(in: 0..<min(bytes.count, 0x800), using: &generator)] = .random(in: 0...255, using: &generator) }
            _ = VDSOImage.buildID(ofImage: bytes)  // must not trap
        }
    }

    @Test func theCacheDirectoryFollowsXDG() {
        // The test process's own environment: XDG_CACHE_HOME when absolute, else HOME's .cache.
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            #expect(VDSOImage.cacheDirectory == xdg + "/perch/vdso")
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            #expect(VDSOImage.cacheDirectory == home + "/.cache/perch/vdso")
        }
    }
}
