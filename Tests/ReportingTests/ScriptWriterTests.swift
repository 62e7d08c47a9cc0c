import ProfileModel
import Reporting
import Testing

/// `perch script`'s layout, column by column, as perf 6.1's `perf script` prints it.
@Suite struct ScriptWriterTests {
    static func frames() -> [ResolvedFrame] {
        [ResolvedFrame(frame: Frame(symbol: "inner", dso: "/bin/app", kind: .inlined), address: 0x6c4, symbolOffset: nil),
         ResolvedFrame(frame: Frame(symbol: "unit", dso: "/bin/app", kind: .user, source: SourceLocation(file: "/src/app.c", line: 12)),
                       address: 0x6c4, symbolOffset: 0x34),
         ResolvedFrame(frame: Frame(symbol: "do_syscall_64", dso: "[kernel.kallsyms]", kind: .kernel), address: 0xffff_ffff_8225_abe0, symbolOffset: 0x250),
         ResolvedFrame(frame: .unknown, address: 0, symbolOffset: nil)]
    }

    static func sample(cpu: UInt32? = 1, callchain: Bool = true) -> ResolvedSample {
        ResolvedSample(pid: 1234, tid: 1235, comm: "python3", cpu: cpu, time: 200_413_192_345, period: 250_000,
                       event: "cpu-clock", ip: 0x5555_0000_06c4, hasCallchain: callchain, frames: frames())
    }

    static func text(_ fields: [ScriptField], _ samples: [ResolvedSample], events: [String] = ["cpu-clock"],
                     nanoseconds: Bool = false) throws -> String {
        var bytes: [UInt8] = []
        var writer = ScriptWriter(fields: fields, eventNames: events, nanoseconds: nanoseconds) { bytes += $0 }
        for sample in samples { try writer.write(sample) }
        try writer.finish()
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func theDefaultLayoutWithAStack() throws {
        let text = try Self.text(ScriptField.defaults, [Self.sample()])
        #expect(text == """
            python3  1235 [001]   200.413192:     250000 cpu-clock: 
            \t             6c4 inner (inlined)
            \t             6c4 unit+0x34 (/bin/app)
            \tffffffff8225abe0 do_syscall_64+0x250 ([kernel.kallsyms])
            \t               0 [unknown] ([unknown])


            """)
    }

    @Test func withoutAStackTheSampledFrameEndsTheLine() throws {
        let text = try Self.text(ScriptField.defaults, [Self.sample(cpu: nil, callchain: false)], events: ["cpu-clock", "page-faults"])
        // The name padded to 16 columns, event names right-aligned to the longest, the ip as sampled,
        // the function itself rather than what was inlined into it.
        #expect(text == "         python3  1235   200.413192:     250000   cpu-clock:      5555000006c4 unit+0x34 (/bin/app)\n")
    }

    @Test func fieldsPidsAndNanoseconds() throws {
        #expect(try Self.text([.comm, .pid, .tid, .time], [Self.sample()], nanoseconds: true)
            == "         python3  1234/1235    200.413192345: \n")
        #expect(try Self.text([.pid, .event], [Self.sample()]) == " 1234 cpu-clock: \n")
        #expect(try Self.text([.tid, .ip, .sym, .srcline], [Self.sample()]) == """
             1235 
            \t             6c4 inner
              app[6c4]
            \t             6c4 unit
              app.c:12
            \tffffffff8225abe0 do_syscall_64
              [kernel.kallsyms][ffffffff8225abe0]
            \t               0 [unknown]
              [unknown][0]


            """)
    }

    @Test func aFailingFlushStopsTheWriter() throws {
        struct Closed: Error {}
        var writer = ScriptWriter(fields: ScriptField.defaults, eventNames: ["cpu-clock"]) { _ in throw Closed() }
        #expect(throws: Closed.self) {
            for _ in 0..<10_000 { try writer.write(Self.sample()) }
        }
    }
}
