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
        abstract: "perch record --switches: switch records, and switch-out stacks where allowed.",
        discussion: "Takes every option of perch record: perch sched record -- CMD, or perch sched record -p PID."
    )

    @Argument(parsing: .captureForPassthrough, help: "perch record's options and the command.")
    var arguments: [String] = []

    func run() throws {
        // Parsed as `perch record` itself is, so `--` and the command read the same way.
        var record = try Perch.parseAsRoot(["record", "--switches"] + arguments)
        try record.run()
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
            timeline = try SchedTimeline(file: try PerfDataFile(path: input))
        } catch {
            throw PerchError.badInput("\(error)")
        }
        guard timeline.switchRecords > 0 else {
            throw PerchError.badInput("\(input) has no context-switch records: record with perch sched record (or perch record --switches)")
        }
        try writeOut(timehist ? renderTimehist(timeline) : renderSummary(timeline))
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
        var text = "# Perch sched report: \(timeline.switchRecords) switch records over \(ms(timeline.lastTime &- timeline.firstTime)) ms\n"
        text += "# on-CPU and off-CPU are measured between the thread's own switch records; wait = one off-CPU interval\n#\n"
        let header = [column("Task", 20, left: true), column("TID", 8), column("on-CPU ms", 11), column("off-CPU ms", 11),
                      column("preempted ms", 13), column("switches", 9), column("voluntary", 10), column("preempted", 10),
                      column("wait p50 ms", 12), column("p90", 9), column("p99", 9), column("max", 9)]
        text += header.joined(separator: " ") + "\n"
        for thread in timeline.threads.sorted(by: { $0.offCPU + $0.onCPU > $1.offCPU + $1.onCPU }) {
            let row = [column(String(thread.comm.prefix(20)), 20, left: true), column("\(thread.tid)", 8),
                       column(ms(thread.onCPU), 11), column(ms(thread.offCPU), 11), column(ms(thread.preempted), 13),
                       column("\(thread.switches)", 9), column("\(thread.voluntarySwitches)", 10),
                       column("\(thread.preemptedSwitches)", 10), column(ms(thread.waitPercentile(50)), 12),
                       column(ms(thread.waitPercentile(90)), 9), column(ms(thread.waitPercentile(99)), 9),
                       column(ms(thread.waits.max() ?? 0), 9)]
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

