import Foundation
import Testing

/// The privilege matrix: for paranoid -1..2 and for root, an unprivileged user, and an
/// unprivileged user with ambient CAP_PERFMON only, every mode either works, works degraded
/// with the reason, or is refused with the remedy and exit 77 — and `perch doctor` predicts
/// which. Changes kernel.perf_event_paranoid, so it runs as root, serialized, and restores the
/// value on every path.
@Suite(.serialized, .enabled(if: Support.isRoot && Support.commandExists("setpriv"), "needs root and setpriv"))
struct PrivilegeMatrixTests {
    static let paranoidPath = "/proc/sys/kernel/perf_event_paranoid"

    enum Who: String, CaseIterable {
        case root, nobody, perfmon = "nobody+CAP_PERFMON"

        var prefix: [String] {
            switch self {
            case .root: []
            case .nobody: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
            case .perfmon: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "--inh-caps=-all,+perfmon", "--ambient-caps=+perfmon"]
            }
        }
    }

    private func perch(_ who: Who, _ arguments: [String]) throws -> Support.Outcome {
        let command = who.prefix + [Support.perch] + arguments
        return try Support.run(command[0], Array(command.dropFirst()))
    }

    private func outcome(of result: Support.Outcome, degradedMarker: String? = nil) -> String {
        if result.status == 77 { return "refused" }
        guard result.status == 0 else { return "failed(\(result.status)): \(result.stderr)" }
        if let degradedMarker, result.stderr.contains(degradedMarker) { return "degraded" }
        return "works"
    }

    @Test func doctorPredictsEveryOutcome() throws {
        let original = try String(contentsOfFile: Self.paranoidPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { try? original.write(toFile: Self.paranoidPath, atomically: false, encoding: .utf8) }
        let workload = try Support.fixture("known_weights")
        let directory = Support.workDirectory

        // Targets to attach to: one owned by root, one by nobody.
        let rootTarget = Process()
        rootTarget.executableURL = URL(fileURLWithPath: "/bin/sleep")
        rootTarget.arguments = ["120"]
        try rootTarget.run()
        let nobodyTarget = Process()
        nobodyTarget.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        nobodyTarget.arguments = Array(Who.nobody.prefix.dropFirst()) + ["/bin/sleep", "120"]
        try nobodyTarget.run()
        defer {
            kill(rootTarget.processIdentifier, SIGKILL)
            kill(nobodyTarget.processIdentifier, SIGKILL)
            rootTarget.waitUntilExit()
            nobodyTarget.waitUntilExit()
        }
        usleep(200_000)

        var table = ["| paranoid | user | own, user frames | own, kernel frames | attach other user | system-wide |",
                     "|---|---|---|---|---|---|"]
        for paranoid in ["-1", "0", "1", "2"] {
            try paranoid.write(toFile: Self.paranoidPath, atomically: false, encoding: .utf8)
            for who in Who.allCases {
                let doctor = try perch(who, ["doctor", "--json"])
                #expect(doctor.status == 0, "doctor failed: \(doctor.stderr)")
                let json = try JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [String: Any]
                let checks = (json?["checks"] as? [[String: Any]]) ?? []
                func predicted(_ key: String) -> String {
                    (checks.first { $0["key"] as? String == key }?["outcome"] as? String) ?? "missing"
                }
                let data = "\(directory)/matrix-\(who == .root ? "root" : "nobody").data"
                let other = who == .root ? nobodyTarget.processIdentifier : rootTarget.processIdentifier
                let actual = [
                    "ownUserOnly": outcome(of: try perch(who, ["record", "-q", "--user-only", "-o", data, "--", workload, "10"])),
                    "ownWithKernel": outcome(of: try perch(who, ["record", "-q", "-o", data, "--", workload, "10"]),
                                             degradedMarker: "kernel frames left out"),
                    "attachOtherUsers": outcome(of: try perch(who, ["record", "-q", "-o", data, "-p", "\(other)", "--duration", "0.2"])),
                    "systemWide": outcome(of: try perch(who, ["record", "-q", "-o", data, "-a", "--duration", "0.2"])),
                ]
                var row = "| \(paranoid) | \(who.rawValue) |"
                for key in ["ownUserOnly", "ownWithKernel", "attachOtherUsers", "systemWide"] {
                    #expect(predicted(key) == actual[key], "paranoid \(paranoid), \(who.rawValue), \(key): doctor says \(predicted(key)), perch record did \(actual[key] ?? "?")")
                    row += " \(actual[key] ?? "?") |"
                }
                table.append(row)
            }
        }
        print(table.joined(separator: "\n"))
    }

    @Test func deschedNotificationWorksUnprivilegedAtParanoid2ThroughSwitchRecords() throws {
        let original = try String(contentsOfFile: Self.paranoidPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        defer { try? original.write(toFile: Self.paranoidPath, atomically: false, encoding: .utf8) }
        for (paranoid, mechanism) in [("2", "switch-record wakeup"), ("1", "context-switches counter")] {
            try paranoid.write(toFile: Self.paranoidPath, atomically: false, encoding: .utf8)
            let doctor = try perch(.nobody, ["doctor", "--json"])
            let json = try JSONSerialization.jsonObject(with: Data(doctor.stdout.utf8)) as? [String: Any]
            let row = ((json?["checks"] as? [[String: Any]]) ?? []).first { $0["key"] as? String == "deschedNotification" }
            #expect(row?["outcome"] as? String == "works", "paranoid \(paranoid): \(String(describing: row))")
            #expect((row?["reason"] as? String)?.contains(mechanism) == true, "paranoid \(paranoid): \(String(describing: row))")
        }
    }

    @Test func aSeccompFilterGivesTheBlockedMessageNotACrash() throws {
        let deny = try Support.fixture("seccomp_deny", flags: ["-O2"])
        let result = try Support.run(deny, [Support.perch, "record", "-o", "\(Support.workDirectory)/seccomp.data", "--", "/bin/true"])
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderr.contains("seccomp") && result.stderr.contains("--cap-add PERFMON"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        let doctor = try Support.run(deny, [Support.perch, "doctor"])
        #expect(doctor.status == 0 && doctor.stdout.contains("refused"))
    }
}
