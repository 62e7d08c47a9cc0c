import ProfileModel
import Testing
import TestSupport
import Reporting

@Suite struct TextReportTests {
    /// Three leaves under main with weights 5:3:2 but one sample each.
    static func fiveThreeTwo() -> Profile {
        var b = ProfileBuilder()
        let t = b.thread(pid: 100, tid: 100, comm: "known")
        b.frame("main"); b.frame("work_c"); b.frame("work_b"); b.frame("work_a")
        b.stack(t, ["main", "work_c"], count: 1, weight: 2)
        b.stack(t, ["main", "work_a"], count: 1, weight: 5)
        b.stack(t, ["main", "work_b"], count: 1, weight: 3)
        b.profile.summary.notes = [ReportNote(.hardwareEventUnavailable, "hardware event 'cycles' unavailable (no PMU): using cpu-clock")]
        b.profile.summary.commandLine = "./app arg"
        return b.profile
    }

    @Test func selfOverheadOrderAndPercentages() {
        let text = TextReport.render(Self.fiveThreeTwo(), options: ReportOptions())
        let rows = tableRows(text)
        #expect(rows == [
            "    50.00%  known    known          [.] work_a",
            "    30.00%  known    known          [.] work_b",
            "    20.00%  known    known          [.] work_c",
        ])
        #expect(text.contains("# Overhead  Command  Shared Object  Symbol\n# ........  .......  .............  ..........\n#\n"))
        #expect(text.hasPrefix("# Perch report\n# Event: cpu-clock (4000 Hz), call graph: fp\n# Samples: 3   Event count: 10\n"))
        #expect(text.contains("# Note: hardware event 'cycles' unavailable (no PMU): using cpu-clock\n"))
        #expect(text.contains("# Command line: ./app arg\n"))
        #expect(!text.contains("\u{1B}["))
    }

    @Test func sampleCountMetricWhenNotUsingWeight() {
        let rows = tableRows(TextReport.render(Self.fiveThreeTwo(), options: ReportOptions(useWeight: false)))
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.hasPrefix("    33.33%") })
        // Ties broken by symbol name.
        #expect(rows.map { $0.hasSuffix("work_a") } == [true, false, false])
    }

    @Test func childrenCountRecursionOnce() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["main", "rec", "rec", "rec", "leaf"], count: 4, weight: 40)
        b.stack(t, ["main", "other"], count: 6, weight: 60)
        let options = ReportOptions(sortKeys: [.sym], children: true)
        let text = TextReport.render(b.profile, options: options)
        #expect(text.contains("# Children      Self  Symbol\n# ........  ........  .........\n"))
        #expect(tableRows(text) == [
            "   100.00%     0.00%  [.] main",
            "    60.00%    60.00%  [.] other",
            "    40.00%    40.00%  [.] leaf",
            "    40.00%     0.00%  [.] rec",
        ])
        let table = OverheadTable(profile: b.profile, options: options)
        let rec = table.entries.first { $0.symbol == "rec" }
        #expect(rec?.childrenSamples == 4)
        #expect(rec?.childrenWeight == 40)
    }

    @Test func pidAndTidKeysSplitEntries() {
        var b = ProfileBuilder()
        let t1 = b.thread(pid: 10, tid: 10, comm: "srv")
        let t2 = b.thread(pid: 10, tid: 11, comm: "srv")
        let t3 = b.thread(pid: 20, tid: 20, comm: "srv")
        b.stack(t1, ["main", "spin"], count: 5, weight: 50)
        b.stack(t2, ["main", "spin"], count: 3, weight: 30)
        b.stack(t3, ["main", "spin"], count: 2, weight: 20)

        #expect(tableRows(TextReport.render(b.profile, options: ReportOptions())) == [
            "   100.00%  srv      known          [.] spin",
        ])
        #expect(tableRows(TextReport.render(b.profile, options: ReportOptions(sortKeys: [.comm, .pid, .sym]))) == [
            "    80.00%  srv       10  [.] spin",
            "    20.00%  srv       20  [.] spin",
        ])
        #expect(tableRows(TextReport.render(b.profile, options: ReportOptions(sortKeys: [.pid, .tid, .sym]))) == [
            "    50.00%  10:srv        10  [.] spin",
            "    30.00%  10:srv        11  [.] spin",
            "    20.00%  20:srv        20  [.] spin",
        ])
    }

    @Test func percentLimitHidesRows() {
        let rows = tableRows(TextReport.render(Self.fiveThreeTwo(), options: ReportOptions(percentLimit: 25)))
        #expect(rows.count == 2)
        #expect(rows.last?.hasSuffix("work_b") == true)
        #expect(!rows.contains { $0.hasSuffix("work_c") })
    }

    @Test func kindMarkersAndSourceLines() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.frame("do_syscall_64", dso: "[kernel.kallsyms]", kind: .kernel)
        b.frame("jitted", dso: "/tmp/perf-1.map", kind: .jit)
        b.frame("inl", kind: .inlined, sourceLine: "a.c:12")
        b.stack(t, ["main", "do_syscall_64"], count: 1, weight: 3)
        b.stack(t, ["main", "jitted"], count: 1, weight: 2)
        b.stack(t, ["main", "inl"], count: 1, weight: 1)
        let text = TextReport.render(b.profile, options: ReportOptions(showSourceLine: true))
        let rows = tableRows(text)
        #expect(rows.count == 3)
        #expect(rows[0].hasSuffix("[kernel.kallsyms]  [k] do_syscall_64"))
        #expect(rows[1].hasSuffix("[j] jitted"))
        #expect(rows[2].hasSuffix("[i] inl a.c:12"))
        let plain = tableRows(TextReport.render(b.profile, options: ReportOptions()))
        #expect(plain[2].hasSuffix("[i] inl"))
    }

    @Test func callGraphBranchPercentages() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["__libc_start_call_main", "main", "caller_one", "leaf"], count: 6, weight: 60)
        b.stack(t, ["__libc_start_call_main", "main", "caller_two", "leaf"], count: 4, weight: 40)
        b.stack(t, ["__libc_start_call_main", "main", "caller_two", "tiny"], count: 0, weight: 0)
        let text = TextReport.render(b.profile, options: ReportOptions(sortKeys: [.sym], callGraph: true))
        let expected = """
               100.00%  [.] leaf
                        |
                        ---leaf
                           |
                           |--60.00%--caller_one
                           |          main
                           |          __libc_start_call_main
                           |
                            --40.00%--caller_two
                                      main
                                      __libc_start_call_main


            """
        #expect(text.contains(expected))
        #expect(!text.contains("tiny"))  // zero-weight entries and branches are not drawn
    }

    @Test func callGraphChainAndLimit() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["start", "main", "work"], count: 99, weight: 99)
        b.stack(t, ["start", "rare", "work"], count: 1, weight: 1)
        let noLimit = TextReport.render(b.profile, options: ReportOptions(sortKeys: [.sym], callGraph: true))
        #expect(noLimit.contains("                --1.00%--rare\n"))
        let limited = TextReport.render(
            b.profile, options: ReportOptions(sortKeys: [.sym], callGraph: true, percentLimit: 2))
        #expect(!limited.contains("rare"))
        // The only branch left carries less than the entry, so it keeps its percentage.
        #expect(limited.contains("               |\n                --99.00%--main\n                          start\n"))
    }

    @Test func callGraphLimitRelativeToEntry() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["main", "big"], count: 900, weight: 900)
        b.stack(t, ["main", "usual", "small"], count: 97, weight: 97)
        b.stack(t, ["main", "odd", "small"], count: 3, weight: 3)  // 0.3% of total, 3% of `small`
        let shown = TextReport.render(b.profile, options: ReportOptions(sortKeys: [.sym], callGraph: true))
        #expect(shown.contains("                --0.30%--odd\n"))
        let hidden = TextReport.render(
            b.profile, options: ReportOptions(sortKeys: [.sym], callGraph: true, callGraphPercentLimit: 5))
        #expect(!hidden.contains("odd"))
        #expect(hidden.contains("                --9.70%--usual\n"))
    }

    @Test func childrenCallGraphPassesThroughEntry() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["main", "a", "mid", "x"], count: 3, weight: 3)
        b.stack(t, ["main", "b", "mid", "y"], count: 1, weight: 1)
        let text = TextReport.render(b.profile, options: ReportOptions(sortKeys: [.sym], children: true, callGraph: true))
        let midRow = text.firstRange(of: "[.] mid\n")
        #expect(midRow != nil)
        if let midRow {
            let after = text[midRow.upperBound...]
            #expect(after.hasPrefix("""
                            |
                            ---mid
                               |
                               |--75.00%--a
                               |          main
                               |
                                --25.00%--b
                                          main

                """))
        }
    }

    @Test func colourFollowsPerfThresholds() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "app")
        b.stack(t, ["main", "hot"], count: 1, weight: 900)
        b.stack(t, ["main", "warm"], count: 1, weight: 98)
        b.stack(t, ["main", "cold"], count: 1, weight: 2)
        let coloured = tableRows(TextReport.render(b.profile, options: ReportOptions(colour: true)))
        #expect(coloured[0].hasPrefix("    \u{1B}[31m90.00%\u{1B}[0m"))
        #expect(coloured[1].hasPrefix("     \u{1B}[32m9.80%\u{1B}[0m") == false)
        #expect(coloured[1].hasPrefix("     \u{1B}[31m9.80%\u{1B}[0m"))
        let text = TextReport.render(b.profile, options: ReportOptions(colour: false))
        #expect(!text.contains("\u{1B}"))
        var c = ProfileBuilder()
        let u = c.thread(pid: 1, tid: 1, comm: "app")
        c.stack(u, ["main", "a"], count: 1, weight: 990)
        c.stack(u, ["main", "green"], count: 1, weight: 8)
        c.stack(u, ["main", "plain"], count: 1, weight: 2)
        let rows = tableRows(TextReport.render(c.profile, options: ReportOptions(colour: true)))
        #expect(rows[1].hasPrefix("     \u{1B}[32m0.80%\u{1B}[0m"))
        #expect(rows[2].hasPrefix("     0.20%"))
    }

    @Test func threadSummaryListsEveryThread() {
        var b = ProfileBuilder()
        let t1 = b.thread(pid: 100, tid: 100, comm: "known")
        let t2 = b.thread(pid: 100, tid: 101, comm: "worker")
        _ = b.thread(pid: 100, tid: 102, comm: "idle")
        b.stack(t1, ["main"], count: 4, weight: 4)
        b.stack(t2, ["main", "w"], count: 6, weight: 6)
        let text = TextReport.threadSummary(b.profile)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(lines == [
            "   100  101  worker         6   60.00%",
            "   100  100  known          4   40.00%",
            "   100  102  idle           0    0.00%",
        ])
        #expect(text.hasPrefix("# Threads: 3   Samples: 10\n"))
    }

    @Test func emptyProfileRenders() {
        let p = Profile(summary: RecordingSummary(event: "task-clock", period: 1000))
        let text = TextReport.render(p, options: ReportOptions(children: true, callGraph: true))
        #expect(text.contains("# Event: task-clock (period 1000), call graph: none\n"))
        #expect(tableRows(text).isEmpty)
    }
}

