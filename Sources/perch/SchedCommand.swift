import ArgumentParser
import PerfEvents
import PerfRecords
import Profiling
import SystemIO

struct SchedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sched",
        abstract: "Trace context switches and report time on and off CPU.",
        subcommands: [SchedRecordCommand.self, SchedReportCommand.self]
    )
}

struct SchedRecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "perch record --switches: switch records, switch-out stacks and wake-ups where allowed.",
        discussion: """
        Takes every option of perch record: perch sched record -- CMD, or perch sched record -p PID.
        Where this user may sample tracepoints with their fields (root, or CAP_PERFMON with tracefs \
        access), it also records sched:sched_wakeup(_new), from which perch sched report measures the \
        scheduling delay (wake-up to switch-in) as perf sched latency does; elsewhere it says so \
        and keeps the switch records. An -e given here replaces that choice.
        """
    )

    @Argument(parsing: .captureForPassthrough, help: "perch record's options and the command.")
    var arguments: [String] = []

    func run() throws {
        let options = arguments.prefix { $0 != "--" }
        let chosesEvents = options.contains { $0 == "-e" || $0 == "--event" || $0.hasPrefix("--event=") || ($0.hasPrefix("-e") && $0.count > 2) }
        var extra: [String] = []
        if !chosesEvents {
            switch Self.wakeupTracepoint() {
            case .success(let names): extra = ["-e", (["cycles"] + names).joined(separator: ","), "--cpu-wide-tracepoints"]
            case .failure(let reason):
                if !options.contains("-q") && !options.contains("--quiet") {
                    printError("perch: note: scheduling delay left out (\(reason)); switch records are recorded")
                }
            }
        }
        // Parsed as `perch record` itself is, so `--` and the command read the same way.
        var record = try Perch.parseAsRoot(["record", "--switches"] + extra + arguments)
        try record.run()
    }

    private struct Unavailable: Error, CustomStringConvertible { var description: String }

    /// The wake-up tracepoints to record (sched_wakeup and sched_wakeup_new, which perf sched
    /// latency measures from), or why this user may not: the kernel hands tracepoint fields only
    /// to CAP_PERFMON or at paranoid -1, and tracefs is usually root's.
    private static func wakeupTracepoint() -> Result<[String], Unavailable> {
        let probe = PrivilegeProbe.run()
        guard probe.hasPerfmon || probe.settings.paranoid == -1 else {
            return .failure(Unavailable(description: "wake-up tracepoints need CAP_PERFMON or kernel.perf_event_paranoid=-1; it is \(probe.settings.paranoid.map(String.init) ?? "unreadable")"))
        }
        guard let tracefs = Tracefs.locate() else { return .failure(Unavailable(description: "tracefs is not mounted")) }
        guard tracefs.isReadable else { return .failure(Unavailable(description: "\(tracefs.root) is not readable by this user")) }
        let names = ["sched_wakeup", "sched_wakeup_new"].filter { (try? tracefs.format(subsystem: "sched", name: $0)) != nil }
        guard names.first == "sched_wakeup" else { return .failure(Unavailable(description: "this kernel has no sched:sched_wakeup")) }
        return .success(names.map { "sched:\($0)" })
    }
}

struct SchedReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Per-thread on-CPU, off-CPU and preempted time, switches and wait latency."
    )

    @Option(name: [.short, .customLong("input")], help: "The recording to read.")
    var input = "perch.data"

    @Flag(name: .long, help: "One line per switch-out, like perf sched timehist.")
    var timehist = false

    func run() throws {
        let timeline: SchedTimeline
        do {
            timeline = try SchedTimeline(file: try PerfDataFile(path: input), formatLookup: Tracefs.formatText(ofEvent:))
        } catch {
            throw PerchError.badInput("\(error)")
        }
        guard timeline.switchRecords > 0 else {
            throw PerchError.badInput("\(input) has no context-switch records nor sched:sched_switch samples: record with perch sched record (or perch record --switches)")
        }
        try writeOut(timehist ? renderTimehist(timeline) : renderSummary(timeline))
    }

    /// A tracepoint's format from this machine's tracefs, for recordings that lack it.
    /// Seconds with microseconds, as perf sched prints times.
    private func seconds(_ nanoseconds: UInt64) -> String {
        "\(nanoseconds / 1_000_000_000).\(String((nanoseconds / 1000) % 1_000_000).alignedRight(6, pad: "0"))"
    }

    private func ms(_ nanoseconds: UInt64) -> String {
        let hundredths = nanoseconds / 10_000
        let text = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
        return text
    }

    private func column(_ text: String, _ width: Int, left: Bool = false) -> String {
        left ? text.alignedLeft(width) : text.alignedRight(width)
    }

    private func renderSummary(_ timeline: SchedTimeline) -> String {
        let source = timeline.switchSource == .switchRecords ? "switch records" : "sched:sched_switch samples"
        var text = "# Perch sched report: \(timeline.switchRecords) \(source) over \(ms(timeline.lastTime &- timeline.firstTime)) ms\n"
        text += "# on-CPU and off-CPU are measured between the thread's own switches; wait = one off-CPU interval\n"
        let delays = !timeline.wakeupEvents.isEmpty
        if delays {
            text += "# delay = wake-up (\(timeline.wakeupEvents.joined(separator: ", "))) or preemption to switch-in, as perf sched latency measures it\n"
        }
        for note in timeline.notes { text += "# note: \(note)\n" }
        text += "#\n"
        var header = [column("Task", 20, left: true), column("TID", 8), column("on-CPU ms", 11), column("off-CPU ms", 11),
                      column("preempted ms", 13), column("switches", 9), column("voluntary", 10), column("preempted", 10),
                      column("wait p50 ms", 12), column("p90", 9), column("p99", 9), column("max", 9)]
        if delays { header += [column("delays", 7), column("avg delay ms", 13), column("max delay ms", 13), column("max delay at s", 16)] }
        text += header.joined(separator: " ") + "\n"
        for thread in timeline.threads.sorted(by: { $0.offCPU + $0.onCPU > $1.offCPU + $1.onCPU }) {
            var row = [column(String(thread.comm.prefix(20)), 20, left: true), column("\(thread.tid)", 8),
                       column(ms(thread.onCPU), 11), column(ms(thread.offCPU), 11), column(ms(thread.preempted), 13),
                       column("\(thread.switches)", 9), column("\(thread.voluntarySwitches)", 10),
                       column("\(thread.preemptedSwitches)", 10), column(ms(thread.waitPercentile(50)), 12),
                       column(ms(thread.waitPercentile(90)), 9), column(ms(thread.waitPercentile(99)), 9),
                       column(ms(thread.waits.max() ?? 0), 9)]
            if delays {
                row += [column("\(thread.delays)", 7), column(ms(thread.averageDelay), 13), column(ms(thread.maxDelay), 13),
                        column(thread.delays == 0 ? "-" : seconds(thread.maxDelayEnd), 16)]
            }
            text += row.joined(separator: " ") + "\n"
        }
        return text
    }

    private func renderTimehist(_ timeline: SchedTimeline) -> String {
        var names: [Int32: String] = [:]
        for thread in timeline.threads { names[thread.tid] = thread.comm }
        var text = column("time", 15) + " " + column("cpu", 5) + "  " + column("task name [tid]", 30, left: true) + " "
            + column("wait time", 10) + " " + column("run time", 10) + "  state\n"
        text += column("(msec)", 15) + " " + column("", 5) + "  " + column("", 30, left: true) + " " + column("(msec)", 10) + " " + column("(msec)", 10) + "\n"
        for change in timeline.switches {
            let seconds = change.time / 1_000_000_000, micros = (change.time / 1000) % 1_000_000
            let time = "\(seconds).\(String(micros).alignedRight(6, pad: "0"))"
            let task = "\(names[change.tid] ?? "?")[\(change.tid)]"
            text += column(time, 15) + " " + column("[\(change.cpu)]", 5) + "  " + column(task, 30, left: true) + " "
                + column(ms(change.waitBefore), 10) + " " + column(ms(change.run), 10) + "  " + (change.preempted ? "preempted" : "blocked") + "\n"
        }
        return text
    }
}

