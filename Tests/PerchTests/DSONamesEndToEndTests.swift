import Foundation
import Testing

/// Two files with one name (`/usr/bin/git` and `/usr/lib/git-core/git` in the wild) are two rows
/// that say which is which, in the text report and the folded output alike.
@Suite(.serialized) struct DSONamesEndToEndTests {
    @Test func twoBinariesWithOneNameAreToldApart() throws {
        let binary = try Support.fixture("known_weights")
        let root = Support.workDirectory + "/dso-names"
        for directory in ["bin", "libexec"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
            let copy = "\(root)/\(directory)/tool"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: binary, toPath: copy)
        }
        let data = root + "/two.data"
        let recorded = try Support.perch(["record", "-q", "--call-graph", "fp", "-o", data, "--",
                                          "sh", "-c", "\(root)/bin/tool 60; \(root)/libexec/tool 60"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["report", "-i", data, "--sort", "dso"])
        let rows = report.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(rows.contains { $0.hasSuffix(" bin/tool") }, "\(report.stdout.prefix(1200))")
        #expect(rows.contains { $0.hasSuffix(" libexec/tool") })
        #expect(!rows.contains { $0.hasSuffix(" tool") && !$0.hasSuffix("/tool") }, "no row called just 'tool'")
        // Folded: unknown frames are named by module; the same distinguishing names apply.
        let folded = root + "/two.folded"
        #expect(try Support.perch(["report", "-i", data, "--folded", folded]).status == 0)
        let text = try String(contentsOfFile: folded, encoding: .utf8)
        #expect(text.contains("work_a"))
    }
}
