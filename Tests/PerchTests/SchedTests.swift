import Foundation
import Testing

/// Context-switch tracing on the off-CPU fixture: per round the main thread sleeps 30 ms,
/// 10 ms, and waits 20 ms on a pipe — 60 ms blocked per round.
@Suite(.serialized) struct SchedTests {
    @Test func schedReportShowsTheMainThreadsBlockedTimeWithinFivePercent() throws {
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/sched.data"
        let recorded = try Support.perch(["sched", "record", "-q", "-o", data, "--", workload, "15"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["sched", "report", "-i", data])
        #expect(report.status == 0, "\(report.stderr)")
        // Both threads are named off_cpu; the main thread is the one switching three times a round.
        let rows = report.stdout.split(separator: "\n").filter { $0.hasPrefix("off_cpu ") }.map { $0.split(separator: " ") }
        let columns = try #require(rows.max { Int($0[5]) ?? 0 < Int($1[5]) ?? 0 }, "\(report.stdout)")
        let offCPU = try #require(Double(columns[3]))
        #expect(abs(offCPU - 900) <= 45, "main thread off-CPU \(offCPU) ms, blocked 900 ms")
        let switches = try #require(Int(columns[5]))
        #expect(switches >= 45, "at least three blocking switches per round")

        let timehist = try Support.perch(["sched", "report", "-i", data, "--timehist"])
        #expect(timehist.stdout.split(separator: "\n").filter { $0.contains("off_cpu[") }.count >= 45)
    }

    @Test func offCPUProfilePutsTheBlockingFunctionsAtThreeToOneToTwo() throws {
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/off-cpu.data"
        let recorded = try Support.perch(["record", "--switches", "-q", "-o", data, "--", workload, "15"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["report", "-i", data, "--off-cpu", "--json", "--children", "--sort", "sym"])
        let json = try JSONReport(report.stdout)
        let long = try #require(json.children(of: "sleep_long"), "\(report.stdout.prefix(3000))")
        let short = try #require(json.children(of: "sleep_short"))
        let pipe = try #require(json.children(of: "wait_for_pipe"))
        #expect(abs(long / short - 3) <= 0.3, "sleep_long:sleep_short = \(long / short)")
        #expect(abs(pipe / short - 2) <= 0.2, "wait_for_pipe:sleep_short = \(pipe / short)")
        let main = try #require(json.children(of: "main"))
        #expect(abs(main - (long + short + pipe)) <= 1, "the three are called from main")

        let folded = Support.workDirectory + "/off-cpu.folded"
        let combined = try Support.perch(["report", "-i", data, "--on-off-cpu", "--folded", folded])
        #expect(combined.status == 0)
        let lines = try String(contentsOfFile: folded, encoding: .utf8).split(separator: "\n")
        #expect(lines.contains { $0.contains(";[off-cpu];") && $0.contains("sleep_long") })
        #expect(lines.contains { $0.contains(";[on-cpu];") })
    }

    @Test(.enabled(if: Support.isRoot && Support.commandExists("setpriv"), "needs root to drop privileges"))
    func unprivilegedAtParanoid2KeepsOffCPUTimeWithoutStacksAndSaysSo() throws {
        let paranoid = (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard paranoid == "2" else { return }
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/off-cpu-nobody.data"
        let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", Support.perch]
        let recorded = try Support.run("setpriv", nobody + ["sched", "record", "-q", "-o", data, "--", workload, "10"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        #expect(recorded.stderr.contains("context-switch stacks unavailable"), "\(recorded.stderr)")
        let report = try Support.run("setpriv", nobody + ["report", "-i", data, "--off-cpu", "--sort", "comm,tid"])
        #expect(report.stdout.contains("switch-out stacks were not recorded"), "\(report.stdout)")
        let sched = try Support.run("setpriv", nobody + ["sched", "report", "-i", data])
        #expect(sched.status == 0 && sched.stdout.contains("off_cpu"))
    }

    /// perf's --switch-events records switch records but no context-switches event: the note says
    /// that, and how to record stacks, not that privileges were missing.
    @Test(.enabled(if: Support.commandExists("perf"), "perf is not installed"))
    func perfSwitchEventsWithoutStacksSayWhatWasNotRecorded() throws {
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/perf-switch-events.data"
        let recorded = try Support.run("perf", ["record", "-q", "--switch-events", "-g", "-o", data, "--", workload, "5"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let report = try Support.perch(["report", "-i", data, "--off-cpu"])
        let note = try #require(report.stdout.split(separator: "\n").first { $0.contains("switch-out stacks were not recorded") },
                                "\(report.stdout.prefix(1500))")
        #expect(note.contains("perch record --switches"))
        #expect(!note.contains("paranoid"), "nothing was refused: the file was recorded without the event")
    }

    /// The header's share of samples unwound with DWARF counts the profile's own samples: the
    /// switch-out stacks of an on+off-CPU profile do not push it past 100%.
    @Test func onAndOffCPUHeaderCountsOnlyItsOwnSamples() throws {
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/on-off-header.data"
        let recorded = try Support.perch(["record", "--switches", "-q", "-o", data, "--", workload, "8"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        for mode in ["--off-cpu", "--on-off-cpu"] {
            let report = try Support.perch(["report", "-i", data, mode])
            let header = try #require(report.stdout.split(separator: "\n").first { $0.contains("call graph: auto (dwarf for ") })
            let share = header.split(separator: "dwarf for ")[1].split(separator: "%")[0]
            let value = Double(share.replacingOccurrences(of: "<", with: "")) ?? -1
            #expect(value > 50 && value <= 100, "\(mode): \(header)")
        }
    }

    /// `sched record` says what its samples are: on-CPU samples (what the report counts) and the
    /// context-switch stacks beside them.
    @Test func schedRecordSaysWhatEachSampleCountCounts() throws {
        let workload = try Support.fixture("off_cpu")
        let data = Support.workDirectory + "/sched-counts.data"
        let recorded = try Support.perch(["sched", "record", "-o", data, "--", workload, "5"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let wrote = try #require(recorded.stderr.split(separator: "\n").first { $0.contains("perch: wrote") })
        // "(33 samples: 7 cpu-clock, 4 sched:sched_wakeup, 26 context-switch stacks, ..." (the
        // wake-up tracepoints where this user may sample them)
        let inner = wrote.split(separator: "(")[1]
        let total = Int(inner.split(separator: " ")[0]) ?? -1
        var counts: [String: Int] = [:]
        for part in inner.dropFirst(inner.distance(from: inner.startIndex, to: inner.firstIndex(of: ":")!) + 1).split(separator: ",") {
            let words = part.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            // The per-event counts end where they add up to the total (then come size, lost, rings).
            guard words.count == 2, let count = Int(words[0]), counts.values.reduce(0, +) < total else { break }
            counts[String(words[1])] = count
        }
        let onCPU = counts["cpu-clock"] ?? -1, stacks = counts["context-switch stacks"] ?? -1
        #expect(onCPU >= 0 && stacks > 0, "\(wrote)")
        #expect(counts.values.reduce(0, +) == total, "\(wrote)")
        let report = try Support.perch(["report", "-i", data])
        #expect(report.stdout.contains("# Samples: \(onCPU) "), "the report counts the on-CPU samples: \(wrote)")
    }

    @Test func aRecordingWithoutSwitchesSaysHowToGetThem() throws {
        let workload = try Support.fixture("known_weights")
        let data = Support.workDirectory + "/no-switches.data"
        try Support.perch(["record", "-q", "-o", data, "--", workload, "5"])
        let report = try Support.perch(["sched", "report", "-i", data])
        #expect(report.status == 1 && report.stderr.contains("perch sched record"))
    }
}
