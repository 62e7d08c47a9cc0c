import ProfileImport
import Reporting
import Testing

/// stackcollapse-perf.pl's rules, one at a time, on hand-made `perf script` text (expected outputs
/// worked out from the script's rules; the CLI tests hold whole captures).
@Suite struct CollapseRulesTests {
    func fold(_ text: String, _ options: PerfScriptCollapser.Options = .init()) -> String {
        PerfScriptCollapser(options: options).collapse(text).text
    }

    @Test func headerWithoutPidAndDefaultPeriod() {
        let text = "prog 42 1.000: cpu-clock: \n\t  400100 leaf+0x1 (/bin/prog)\n\t  400000 main+0x10 (/bin/prog)\n\n"
        #expect(fold(text) == "prog;main;leaf 1\n")
        #expect(fold(text, .init(folded: FoldedOptions(includePid: true))) == "prog-?;main;leaf 1\n")
        #expect(fold(text, .init(folded: FoldedOptions(includeTid: true))) == "prog-?/42;main;leaf 1\n")
    }

    @Test func periodsAreSummedAndOtherEventsDropped() {
        let text = """
            pp 7/8 [000] 1.0:     1000 cycles: 
            \t  1 f (/bin/p)

            pp 7/8 [000] 1.1:     3000 cycles: 
            \t  1 f+0x2 (/bin/p)

            pp 7/8 [000] 1.2:     5 instructions: 
            \t  1 g (/bin/p)


            """
        let result = PerfScriptCollapser().collapse(text)
        #expect(result.text == "pp;f 4000\n")
        #expect(result.filteredToEvent == "cycles")
        #expect(fold(text, .init(eventFilter: "instructions")) == "pp;g 5\n")
    }

    @Test func javaNamesAreTidied() {
        let text = "java 999/1000 [000] 1.0: 1 cycles: \n\t7f00 Lorg/mozilla/javascript/ContextFactory;.call(Lorg/mozilla/javascript/ContextAction;)Ljava/lang/Object; (/tmp/perf-999.map)\n\n"
        #expect(fold(text) == "java;org/mozilla/javascript/ContextFactory:.call 1\n")
        #expect(fold(text, .init(folded: FoldedOptions(annotateJIT: true))) == "java;org/mozilla/javascript/ContextFactory:.call_[j] 1\n")
    }

    @Test func sourceLinesAreAppended() {
        let text = """
            a.out 35081 252436.005167:     667783 cycles:
            \t          408ebb some_method_name+0x8b (/full/path/to/a.out)
              uniform_int_dist.h:300
            \t          4069f5 main+0x935 (/full/path/to/a.out)
              file.cpp:137
            \t    7f6d213c2750 [unknown] ([unknown])
              [unknown][7f6d213c2750]


            """
        // The unknown frame reads no source line, so its line is unrecognized (and ignored).
        let result = PerfScriptCollapser(options: .init(sourceLines: true)).collapse(text)
        #expect(result.text == "a.out;[unknown];main:file.cpp:137;some_method_name:uniform_int_dist.h:300 667783\n")
        #expect(result.unrecognizedCount == 1)
    }

    @Test func kernelModulesAndVmlinux() {
        let text = "kk 1/1 1.0: 1 cpu-clock:\n\t8c3453 tcp_sendmsg (/lib/modules/6.1/build/vmlinux)\n\t7d8 ipv4_conntrack_local+0x7f8f80b8 ([nf_conntrack_ipv4])\n\t7d9 x ([unknown])\n\t7da y ([vdso])\n\n"
        #expect(fold(text, .init(folded: FoldedOptions(annotateKernel: true))) == "kk;y_[k];x;ipv4_conntrack_local_[k];tcp_sendmsg_[k] 1\n")
    }

    @Test func stacksWithoutFramesAndUnterminatedSamples() {
        // A sample with no frames still counts under its process; a last sample without the
        // closing blank line is dropped, as the script does.
        let text = "idle 5/5 1.0: 1 cpu-clock:\n\ncut 6/6 1.0: 1 cpu-clock:\n\t1 f (/bin/f)"
        #expect(fold(text) == "idle 1\n")
    }

    @Test func outputIsSortedBytewise() {
        let text = "bb 1/1 1.0: 1 c:\n\t1 x (/m)\n\naa 1/1 1.0: 1 c:\n\t1 x (/m)\n\nBB 1/1 1.0: 1 c:\n\t1 x (/m)\n\n"
        #expect(fold(text) == "BB;x 1\naa;x 1\nbb;x 1\n")
    }

    @Test func commandNamesAreAtLeastTwoCharacters() {
        // The header pattern's command is one non-blank then at least one more character, so a
        // one-letter command swallows fields up to the next blank-separated number.
        let text = "a 123 [000] 1.5:     250000 cpu-clock:\n\t1 x (/m)\n\n"
        #expect(fold(text, .init(folded: FoldedOptions(includeTid: true))) == "a_123_[000]_1.5:-?/250000;x 250000\n")
    }
}
