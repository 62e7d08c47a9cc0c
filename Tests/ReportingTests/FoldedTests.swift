import ProfileImport
import ProfileModel
import Testing
import TestSupport
import Reporting

@Suite struct FoldedTests {
    /// Two threads of `my app` (a space in comm), kernel, JIT, inlined and unknown frames.
    static func sample() -> Profile {
        var b = ProfileBuilder()
        let t1 = b.thread(pid: 100, tid: 100, comm: "my app")
        let t2 = b.thread(pid: 100, tid: 101, comm: "my app")
        let t3 = b.thread(pid: 200, tid: 200, comm: "other")
        b.frame("main")
        b.frame("work")
        b.frame("helper", kind: .inlined)
        b.frame("do_syscall_64", dso: "[kernel.kallsyms]", kind: .kernel)
        b.frame("Interp::run", dso: "/tmp/perf-100.map", kind: .jit)
        b.frame("[unknown]", dso: "/usr/lib/libc.so.6", address: 0x7f00_12ab, key: "libc?")
        b.frame("[unknown]", dso: "[unknown]", address: 0xdead, key: "nowhere")
        b.stack(t1, ["main", "work", "helper"], count: 3, weight: 30)
        b.stack(t2, ["main", "work", "helper"], count: 2, weight: 20)
        b.stack(t1, ["main", "do_syscall_64"], count: 1, weight: 10)
        b.stack(t2, ["main", "Interp::run", "libc?"], count: 4, weight: 40)
        b.stack(t3, ["nowhere", "main"], count: 5, weight: 50)
        b.stack(t3, ["main", "work"], count: 0, weight: 0)
        return b.profile
    }

    @Test func defaultOutputMergesThreadsAndSorts() {
        #expect(FoldedWriter.write(Self.sample()) == """
            my_app;main;Interp::run;[libc.so.6] 4
            my_app;main;do_syscall_64 1
            my_app;main;work;helper 5
            other;[unknown];main 5

            """)
    }

    @Test func pidTidAnnotationsAndAddresses() {
        let pid = FoldedWriter.write(Self.sample(), options: FoldedOptions(includePid: true))
        #expect(pid.split(separator: "\n").first == "my_app-100;main;Interp::run;[libc.so.6] 4")
        #expect(pid.contains("my_app-100;main;work;helper 5\n"))
        #expect(pid.contains("other-200;[unknown];main 5\n"))

        let tid = FoldedWriter.write(
            Self.sample(),
            options: FoldedOptions(includeTid: true, addresses: true, annotateKernel: true, annotateJIT: true, annotateInlined: true))
        #expect(tid == """
            my_app-100/100;main;do_syscall_64_[k] 1
            my_app-100/100;main;work;helper_[i] 3
            my_app-100/101;main;Interp::run_[j];[libc.so.6 <7f0012ab>] 4
            my_app-100/101;main;work;helper_[i] 2
            other-200/200;[unknown <dead>];main 5

            """)

        let noComm = FoldedWriter.write(Self.sample(), options: FoldedOptions(includeComm: false))
        #expect(noComm.hasPrefix("[unknown];main 5\nmain;Interp::run;[libc.so.6] 4\n"))
    }

    @Test func sortIsBytewiseAndSemicolonsAreReplaced() {
        var b = ProfileBuilder()
        let t = b.thread(pid: 1, tid: 1, comm: "a")
        b.stack(t, ["ab!"], count: 1, weight: 1)
        b.stack(t, ["ab"], count: 1, weight: 1)
        b.stack(t, ["Zed"], count: 1, weight: 1)
        b.stack(t, ["x;y"], count: 2, weight: 1)
        var out = ""
        FoldedWriter.write(b.profile, to: &out)
        #expect(out == "a;Zed 1\na;ab 1\na;ab! 1\na;x:y 2\n")
        #expect(FoldedWriter.bytes(b.profile) == Array(out.utf8))
    }

    @Test func parseRoundTrip() throws {
        let text = FoldedWriter.write(Self.sample(), options: FoldedOptions(includeTid: true))
        let parsed = try FoldedStacks.parse(text)
        #expect(parsed.count == 5)
        #expect(parsed.reduce(0) { $0 + $1.count } == 15)
        #expect(parsed[0].stack == ["my_app-100/100", "main", "do_syscall_64"])
        #expect(parsed[0].count == 1)
    }

    @Test func parseToleratesBlankLinesSpacesAndCRLF() throws {
        let parsed = try FoldedStacks.parse("a;b c;d 7\r\n\n  \nx 1\n")
        #expect(parsed.count == 2)
        #expect(parsed[0].stack == ["a", "b c", "d"])
        #expect(parsed[0].count == 7)
        #expect(parsed[1].stack == ["x"])
    }

    @Test(arguments: [
        ("a;b 1\nc;d\n", 2),
        ("a;b 1\n\nc;d x\n", 3),
        (" 5\n", 1),
        ("a 1\nb -3\n", 2),
        ("a 99999999999999999999999\n", 1),
    ])
    func parseRejectsBadLines(input: String, badLine: Int) {
        #expect(throws: FoldedStacksError.self) { try FoldedStacks.parse(input) }
        do {
            _ = try FoldedStacks.parse(input)
        } catch {
            #expect(error.line == badLine)
            #expect(error.description.contains("line \(badLine)"))
        }
    }
}
