import ArgumentParser
import PerfEvents
import Recording
import Reporting
import SystemIO

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show what profiling works here, what does not, why, and how to get it.",
        discussion: "Every row is checked by opening real events as the current user, not guessed from settings."
    )

    @Flag(name: .long, help: "Print the checks as JSON.")
    var json = false

    func run() throws {
        let probe = PrivilegeProbe.run()
        let checks = Doctor.run(probe: probe)
        if json {
            try writeOut(renderJSON(probe: probe, checks: checks) + "\n")
        } else {
            try writeOut(renderTable(probe: probe, checks: checks))
        }
    }

    private func renderTable(probe: PrivilegeProbe, checks: [DoctorCheck]) -> String {
        let settings = probe.settings
        let capabilities = Capability.allCases.filter { settings.hasCapability($0) }.map(\.name)
        var text = "# Perch doctor\n"
        text += "# kernel \(settings.release), perf_event_paranoid=\(settings.paranoid.map(String.init) ?? "unreadable"), "
        text += "kptr_restrict=\(settings.kptrRestrict.map(String.init) ?? "unreadable"), "
        text += "perf_event_max_sample_rate=\(settings.maxSampleRate.map(String.init) ?? "?"), "
        text += "perf_event_mlock_kb=\(settings.mlockKiB.map(String.init) ?? "?"), "
        text += "RLIMIT_MEMLOCK=\(settings.memlockLimit.map { "\($0 / 1024) KiB" } ?? "unlimited")\n"
        text += "# capabilities: \(capabilities.isEmpty ? "none" : capabilities.joined(separator: " ")); "
        text += "seccomp: \(probe.seccompMode.map(String.init) ?? "unknown"); hardware PMU: \(probe.hardwarePMU ? "yes" : "no")\n#\n"
        let width = checks.map(\.mode.rawValue.count).max() ?? 10
        for check in checks {
            let name = check.mode.rawValue.alignedLeft(width)
            let outcome = check.outcome.rawValue.alignedLeft(8)
            text += "\(name)  \(outcome)  \(check.reason)\n"
            if let remedy = check.remedy, check.outcome != .works {
                text += String(repeating: " ", count: width + 12) + "to get it: \(remedy)\n"
            }
        }
        return text
    }

    private func renderJSON(probe: PrivilegeProbe, checks: [DoctorCheck]) -> String {
        func string(_ value: String?) -> String { value.map(JSON.string) ?? "null" }
        let settings = probe.settings
        let capabilities = Capability.allCases.filter { settings.hasCapability($0) }.map { string($0.name) }
        var text = "{\n  \"kernel\": \(string(settings.release)),\n"
        text += "  \"paranoid\": \(settings.paranoid.map(String.init) ?? "null"),\n"
        text += "  \"kptrRestrict\": \(settings.kptrRestrict.map(String.init) ?? "null"),\n"
        text += "  \"maxSampleRate\": \(settings.maxSampleRate.map(String.init) ?? "null"),\n"
        text += "  \"mlockKiB\": \(settings.mlockKiB.map(String.init) ?? "null"),\n"
        text += "  \"capabilities\": [\(capabilities.joined(separator: ", "))],\n"
        text += "  \"seccomp\": \(probe.seccompMode.map(String.init) ?? "null"),\n"
        text += "  \"hardwarePMU\": \(probe.hardwarePMU),\n"
        text += "  \"checks\": [\n"
        text += checks.map { check in
            "    {\"mode\": \(string(check.mode.rawValue)), \"key\": \(string(String(describing: check.mode))), \"outcome\": \(string(check.outcome.rawValue)), \"reason\": \(string(check.reason)), \"remedy\": \(string(check.remedy))}"
        }.joined(separator: ",\n")
        text += "\n  ]\n}"
        return text
    }
}
