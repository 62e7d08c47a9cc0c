import Foundation
import FuzzTargets
import Testing

/// Replays the seed corpora and every crash that was found and fixed (`Fuzz/Regressions/TARGET/`)
/// through the same entry points the fuzzer runs. An input that still crashes lives in
/// `Fuzz/Pending/TARGET/` until its fix lands, and moves to `Regressions` with it.
@Suite struct FuzzRegressionTests {
    static let fuzzRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ folder: String, _ target: FuzzTarget) -> [URL] {
        let directory = fuzzRoot.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func regressionsRunCleanly(_ target: FuzzTarget) throws {
        #expect(!Self.inputs("Seeds", target).isEmpty, "no seeds for \(target.rawValue)")
        for file in Self.inputs("Seeds", target) + Self.inputs("Regressions", target) {
            let data = try Data(contentsOf: file)
            data.withUnsafeBytes { target.run($0) }
        }
    }
}
