import Foundation
import Testing
import TestSupport

/// A sample taken in the kernel carries, below the kernel frames, the user pc where the thread
/// entered the kernel. After a fault or an interrupt that is the instruction itself, looked up
/// exactly: at a function's first instruction, `pc - 1` is the function before it (once every such
/// frame was `[unknown]`, and a vdso frame `[[vdso]]`). After a `syscall` it is where the call
/// returns, looked up as a return address. One fixture faults at `touch`'s first instruction once
/// per page, the other sleeps in a `syscall` that ends `nap`; every output must give the function
/// one sample per fault or sleep.
@Suite(.serialized) struct KernelEntryFrameTests {
    private static let faultAtEntry = """
        #include <stdlib.h>
        #include <sys/mman.h>
        __attribute__((noinline)) long before_touch(long x) { return x * 3 + 1; }
        /* Its first instruction stores to the page: on a fresh page the fault is at touch+0. */
        __attribute__((noinline)) void touch(char *page) { *page = 1; }
        int main(int argc, char **argv) {
            long pages = argc > 1 ? atol(argv[1]) : 2000;
            char *memory = mmap(0, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (memory == MAP_FAILED) return 1;
            madvise(memory, pages * 4096, MADV_NOHUGEPAGE);  /* one fault per page */
            long sum = 0;
            for (long i = 0; i < pages; i++) { touch(memory + i * 4096); sum += before_touch(i); }
            return sum == 0;
        }
        """

    /// `nap`'s last instruction is its `syscall` (nanosleep), so the pc the kernel gives, where the
    /// call returns, is `nap_return`'s first: the frame is `nap`'s, as for a return address.
    private static let syscallAtEnd = """
        #include <stdlib.h>
        #include <time.h>
        __asm__(".text\\n"
                ".globl nap\\n.type nap, @function\\nnap:\\n.cfi_startproc\\n"
                "  xor %esi, %esi\\n  mov $35, %eax\\n  syscall\\n.cfi_endproc\\n.size nap, .-nap\\n"
                ".globl nap_return\\n.type nap_return, @function\\nnap_return:\\n.cfi_startproc\\n"
                "  ret\\n.cfi_endproc\\n.size nap_return, .-nap_return\\n");
        long nap(const struct timespec *duration);
        int main(int argc, char **argv) {
            long naps = argc > 1 ? atol(argv[1]) : 2000;
            struct timespec microsecond = {0, 1000};
            for (long i = 0; i < naps; i++) if (nap(&microsecond) != 0) return 1;
            return 0;
        }
        """

    @Test(.enabled(if: Support.isRoot, "needs root (tracefs)"))
    func aFaultAtAFunctionsFirstInstructionIsThatFunctionInEveryOutput() throws {
        let binary = try CCompiler.compile(source: Self.faultAtEntry, name: "fault_at_entry",
                                           flags: ["-O2", "-g", "-fcf-protection=none"])
        // The fault is at touch+0 only if the store is its first instruction.
        let touch = try Self.instructions(of: "touch", in: binary)
        try #require(touch.first?.text.contains("(%rdi)") == true, "touch starts with \(touch)")
        let start = try #require(touch.first?.address)
        try Self.expectEveryOutput(recording: ["-e", "exceptions:page_fault_user", "-c", "1", "--", binary, "2000"],
                                   name: "fault-at-entry", gives: "touch", count: 2000...2000, not: "before_touch",
                                   scriptFrame: "\(String(start, radix: 16)) touch+0x0 (\(binary))")
    }

    @Test func aSyscallAtAFunctionsEndIsThatFunctionInEveryOutput() throws {
        let binary = try CCompiler.compile(source: Self.syscallAtEnd, name: "syscall_at_end", flags: ["-O2", "-g"])
        let nap = try Self.instructions(of: "nap", in: binary)
        let returnPoint = try #require(Self.instructions(of: "nap_return", in: binary).first?.address)
        try #require(nap.last?.text.hasPrefix("syscall") == true, "nap ends with \(nap)")
        let size = returnPoint - nap[0].address
        // A sleep whose timer expired before the task slept switches nothing (1999 in a CI run), and
        // one preempted in the syscall before it slept switches twice (2001 beside a release build).
        // perch script prints the pc as recorded, named as a return address is: one past the syscall.
        try Self.expectEveryOutput(recording: ["-e", "context-switches", "-c", "1", "--", binary, "2000"],
                                   name: "syscall-at-end", gives: "nap", count: 1900...2100, not: "nap_return",
                                   scriptFrame: "\(String(returnPoint, radix: 16)) nap+0x\(String(size, radix: 16)) (\(binary))")
    }

    /// Records, then checks that `function` has the same number of samples, in `count`, in the
    /// text report, folded, SVG, speedscope and pprof (and `other` none), and that `perch script`
    /// prints `scriptFrame` that many times.
    private static func expectEveryOutput(recording arguments: [String], name: String, gives function: String,
                                          count: ClosedRange<Int>,
                                          not other: String, scriptFrame: String) throws {
        let directory = Support.workDirectory
        let data = directory + "/\(name).data"
        let recorded = try Support.perch(["record", "-q", "--no-report", "-o", data] + arguments)
        try #require(recorded.status == 0, "\(recorded.stderr)")
        let folded = directory + "/\(name).folded", svg = directory + "/\(name).svg"
        let speedscope = directory + "/\(name).speedscope.json", pprof = directory + "/\(name).pb.gz"
        let report = try Support.perch(["report", "-i", data, "--json", "--children", "--sort", "sym", "--folded", folded,
                                        "--flamegraph", svg, "--speedscope", speedscope, "--pprof", pprof])
        try #require(report.status == 0, "\(report.stderr)")

        let functions = [function, other]
        let outputs: [(String, [String: Double])] = [
            ("text", try OffCPUFormatsTests.textReport(report.stdout)),
            ("folded", try OffCPUFormatsTests.folded(folded, functions: functions)),
            ("svg", try OffCPUFormatsTests.svg(svg, functions: functions)),
            ("speedscope", try OffCPUFormatsTests.speedscope(speedscope, functions: functions)),
            ("pprof", try OffCPUFormatsTests.pprof(pprof, functions: functions)),
        ]
        let samples = Int(outputs[0].1[function] ?? 0)
        #expect(count.contains(samples), "text: \(function) has \(samples) samples, not \(count)")
        for (format, values) in outputs {
            #expect(values[function] == Double(samples), "\(format): \(function) has \(values[function] ?? 0) samples, text \(samples)")
            #expect(values[other] == nil, "\(format): \(other) has \(values[other] ?? 0)")
        }
        let stacks = try String(contentsOfFile: folded, encoding: .utf8).split(separator: "\n")
            .filter { $0.split(separator: ";").contains { $0 == function } }
        #expect(!stacks.contains { $0.contains("[unknown]") }, "\(stacks.prefix(10))")

        let script = try Support.perch(["script", "-i", data, "-F", "ip,sym,symoff,dso"])
        try #require(script.status == 0, "\(script.stderr)")
        let lines = script.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.filter { $0 == scriptFrame }.count == samples, "\(samples) of \(scriptFrame) in\n\(script.stdout.prefix(1500))")
    }

    /// A function's instructions from `objdump -d`: address and text.
    private static func instructions(of function: String, in binary: String) throws -> [(address: UInt64, text: String)] {
        let disassembly = try ProcessRunner.output(["objdump", "-d", "--no-show-raw-insn", binary])
        let body = try #require(disassembly.components(separatedBy: "<\(function)>:\n").dropFirst().first)
        return body.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }.compactMap { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let address = UInt64(parts[0].trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            return (address, parts[1].trimmingCharacters(in: .whitespaces))
        }
    }
}
