import Foundation
import Testing

/// `perch record -e` with several events, perf's modifiers and tracepoints, end to end: the file
/// reads back a section per event (in Perch and in perf), `:u` sets exclude_kernel, tracepoints
/// carry their raw data, and what an unprivileged user may not sample is refused (exit 77).
@Suite(.serialized) struct RecordEventsTests {
    /// `# Samples: N` of each `# Perch report` section, by its event name.
    static func sections(_ report: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for section in report.components(separatedBy: "# Perch report\n").dropFirst() {
            let lines = section.split(separator: "\n")
            guard let event = lines.first(where: { $0.hasPrefix("# Event: ") })?.dropFirst("# Event: ".count).split(separator: " ").first,
                  let samples = lines.first(where: { $0.hasPrefix("# Samples: ") })
                    .flatMap({ Int($0.dropFirst("# Samples: ".count).split(separator: " ")[0]) }) else { continue }
            counts[String(event)] = samples
        }
        return counts
    }

    /// perf report's `# Samples: N  of event 'E'` lines (exact below 1000; perf rounds to K above).
    static func perfSections(_ text: String) -> [String: String] {
        var counts: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("# Samples: ") && line.contains(" of event '") {
            let count = line.dropFirst("# Samples: ".count).split(separator: " ")[0]
            let event = line.split(separator: "'")[1]
            counts[String(event)] = String(count)
        }
        return counts
    }

    /// perf's way of printing a count: exact below 1000, else rounded to K.
    static func perfStyle(_ count: Int) -> String { count < 1000 ? "\(count)" : "\(Int((Double(count) / 1000).rounded()))K" }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func twoEventsAreTwoSectionsInPerchAndPerf() throws {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/events-two.data"
        let recorded = try Support.perch(["record", "-q", "-e", "cpu-clock,page-faults", "-o", data, "--", binary, "20"])
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["report", "-i", data])
        #expect(report.status == 0)
        let counts = Self.sections(report.stdout)
        #expect(Set(counts.keys) == ["cpu-clock", "page-faults"], "\(report.stdout.prefix(1500))")
        let perf = Self.perfSections(try Support.run("perf", ["report", "--stdio", "-s", "comm", "-i", data]).stdout)
        for (event, samples) in counts {
            #expect(samples > 0)
            let json = try JSONReport(try Support.perch(["report", "-i", data, "--event", event, "--json"]).stdout)
            #expect(json.summary["totalSamples"] as? Int == samples, "\(event)")
            #expect(perf[event] == Self.perfStyle(samples), "\(event): perf \(perf[event] ?? "none"), perch \(samples)")
        }
        // perf script reads every sample of both events.
        let script = try Support.run("perf", ["script", "-i", data, "-F", "event"])
        #expect(script.status == 0)
        #expect(script.stdout.split(separator: "\n").count == counts.values.reduce(0, +))
    }

    @Test func recordingStatusLineCountsEachEvent() throws {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/events-status.data"
        let recorded = try Support.perch(["record", "--no-report", "-e", "cpu-clock,page-faults", "-o", data, "--", binary, "10"])
        #expect(recorded.status == 0)
        let wrote = try #require(recorded.stderr.split(separator: "\n").first { $0.hasPrefix("perch: wrote ") })
        let counts = Self.sections(try Support.perch(["report", "-i", data]).stdout)
        let cpu = try #require(counts["cpu-clock"]), faults = try #require(counts["page-faults"])
        #expect(wrote.contains("(\(cpu + faults) samples: \(cpu) cpu-clock, \(faults) page-faults,"), "\(wrote)")
    }

    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func userModifierSetsExcludeKernelAndLeavesNoKernelFrames() throws {
        let binary = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/events-user.data"
        // Page faults are taken in the kernel: without :u their chains would start there.
        let recorded = try Support.perch(["record", "-q", "-e", "cpu-clock:u", "-o", data, "--", binary, "10"])
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let evlist = try Support.run("perf", ["evlist", "-v", "-i", data])
        let line = try #require(evlist.stdout.split(separator: "\n").first)
        #expect(line.hasPrefix("cpu-clock:u: ") && line.contains("exclude_kernel: 1") && line.contains("exclude_hv: 1"), "\(line)")
        let report = try Support.perch(["report", "-i", data, "--no-children"])
        #expect(report.status == 0 && report.stdout.contains("# Event: cpu-clock:u"))
        #expect(!report.stdout.contains("[k]"), "\(report.stdout.prefix(2000))")
        // The same run without the modifier, as root, does sample the kernel.
        let plain = Support.workDirectory + "/events-kernel.data"
        #expect(try Support.perch(["record", "-q", "-e", "cpu-clock:k", "-o", plain, "--", binary, "10"]).status == 0)
        let kernelLine = try Support.run("perf", ["evlist", "-v", "-i", plain]).stdout
        #expect(kernelLine.contains("exclude_user: 1") && !kernelLine.contains("exclude_kernel: 1"), "\(kernelLine)")
    }

    @Test(.enabled(if: Support.isRoot && Support.commandExists("perf"), "needs root and perf"))
    func tracepointRecordsRawDataAndTheReportNamesIt() throws {
        let data = Support.workDirectory + "/events-tracepoint.data"
        let recorded = try Support.perch(["record", "-q", "-e", "cpu-clock,sched:sched_switch", "-o", data, "--",
                                          "sh", "-c", "for i in 1 2 3 4 5; do sleep 0.01; done"])
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["report", "-i", data])
        let counts = Self.sections(report.stdout)
        let switches = try #require(counts["sched:sched_switch"], "\(report.stdout.prefix(1500))")
        #expect(switches >= 5, "at least one switch out per sleep")
        // perf reads the formats Perch stored (TRACING_DATA) and prints the fields from the raw data.
        let script = try Support.run("perf", ["script", "-i", data])
        #expect(script.status == 0, "\(script.stderr)")
        let lines = script.stdout.split(separator: "\n").filter { $0.contains("sched:sched_switch:") }
        #expect(lines.count == switches)
        #expect(lines.allSatisfy { $0.contains("prev_comm=") && $0.contains("==> next_comm=") }, "\(lines.prefix(3))")
        #expect(lines.contains { $0.contains("prev_comm=sleep") })
    }

    @Test(.enabled(if: Support.isRoot && Support.commandExists("setpriv"), "needs root and setpriv"),
          arguments: ["cpu-clock:k", "sched:sched_switch", "cpu-clock,sched:sched_switch"])
    func unprivilegedKernelModifierAndTracepointAreRefused(_ events: String) throws {
        let paranoid = try String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8)
        try #require(Int(paranoid.trimmingCharacters(in: .whitespacesAndNewlines)) == 2, "the machine is left at paranoid 2")
        let result = try Support.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                                                 Support.perch, "record", "-q", "-e", events, "-o", Support.workDirectory + "/events-nobody.data",
                                                 "--", "true"])
        #expect(result.status == 77, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("perch: error: ") && lines[0].contains("kernel.perf_event_paranoid=2"), "\(result.stderr)")
    }

    @Test func unknownTracepointIsAUsageError() throws {
        let result = try Support.perch(["record", "-q", "-e", "sched:no_such_tracepoint", "-o", Support.workDirectory + "/events-none.data", "--", "true"])
        #expect(result.status == (Support.isRoot ? 64 : 77), "\(result.stderr)")
        if Support.isRoot { #expect(result.stderr.contains("no tracepoint 'sched:no_such_tracepoint'")) }
        let bad = try Support.perch(["record", "-e", "cpu-clock:x", "--", "true"])
        #expect(bad.status == 64 && bad.stderr.contains("unknown event modifier 'x'"), "\(bad.stderr)")
    }

    @Test func listShowsCPUClockUsableAndNoHardware() throws {
        let list = try Support.perch(["list"])
        #expect(list.status == 0)
        let cpuClock = try #require(list.stdout.split(separator: "\n").first { $0.contains("cpu-clock") })
        #expect(cpuClock.contains("[Software event]") && cpuClock.contains("usable"))
        let hasPMU = try Support.perch(["record", "-q", "-e", "cycles", "-o", Support.workDirectory + "/events-pmu.data", "--", "true"])
            .stderr.contains("no hardware PMU") == false
        if !hasPMU {
            #expect(list.stdout.contains("hardware events: none (no hardware PMU here"))
        }
        let sched = try Support.perch(["list", "sched:sched_sw*"])
        if Support.isRoot { #expect(sched.stdout.contains("sched:sched_switch") && !sched.stdout.contains("cpu-clock"), "\(sched.stdout)") }
        let software = try Support.perch(["list", "sw"])
        #expect(software.stdout.contains("page-faults OR faults") && !software.stdout.contains("Tracepoint"))
    }
}
