import PerfABI
import Testing

/// tracefs `format` text → fields, and raw tracepoint records → `name=value` text.
@Suite struct TracepointFormatTests {
    /// sched_switch's format as Linux 6.18 prints it (print fmt shortened, still with a helper:
    /// too complex to follow, so the fields are listed).
    static let schedSwitch = """
    name: sched_switch
    ID: 372
    format:
    \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
    \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
    \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
    \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

    \tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
    \tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
    \tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;
    \tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;
    \tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
    \tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
    \tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;

    print fmt: "prev_comm=%s prev_state=%s", REC->prev_comm, __print_flags(REC->prev_state, "|", { 0x01, "S" })
    """

    static func record(prev: String, prevPID: Int32, next: String, nextPID: Int32) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64)
        func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (index, byte) in $0.enumerated() { bytes[offset + index] = byte } }
        }
        put(UInt16(372), 0)
        put(prevPID, 4)
        for (index, byte) in prev.utf8.enumerated() { bytes[8 + index] = byte }
        put(prevPID, 24); put(Int32(120), 28); put(Int64(1), 32)
        for (index, byte) in next.utf8.enumerated() { bytes[40 + index] = byte }
        put(nextPID, 56); put(Int32(-1), 60)
        return bytes
    }

    @Test func parsesFieldsWithOffsetsSizesAndSignedness() throws {
        let format = try TracepointFormat(parsing: Self.schedSwitch)
        #expect(format.name == "sched_switch" && format.id == 372)
        #expect(format.fields.count == 11)
        #expect(format.eventFields.map(\.name) == ["prev_comm", "prev_pid", "prev_prio", "prev_state", "next_comm", "next_pid", "next_prio"])
        let comm = try #require(format.fields.first { $0.name == "prev_comm" })
        #expect(comm.offset == 8 && comm.size == 16 && comm.arrayCount == 16 && comm.isText && !comm.isSigned)
        let pid = try #require(format.fields.first { $0.name == "next_pid" })
        #expect(pid.type == "pid_t" && pid.offset == 56 && pid.size == 4 && pid.isSigned)
    }

    @Test func describesARawRecord() throws {
        let format = try TracepointFormat(parsing: Self.schedSwitch)
        let raw = Self.record(prev: "sh", prevPID: 123, next: "swapper/1", nextPID: 0)
        raw.withUnsafeBytes { bytes in
            #expect(format.describe(bytes) == "prev_comm=sh prev_pid=123 prev_prio=120 prev_state=1 next_comm=swapper/1 next_pid=0 next_prio=-1")
            #expect(format.integer("next_pid", in: bytes) == 0)
            #expect(format.integer("common_pid", in: bytes) == 123)
            #expect(format.text("prev_comm", in: bytes) == "sh")
        }
        // A record shorter than its format: what is outside reads as `?`, never past the end.
        Array(raw.prefix(30)).withUnsafeBytes { bytes in
            #expect(format.describe(bytes).hasPrefix("prev_comm=sh prev_pid=123 prev_prio=? prev_state=? next_comm=?"))
        }
    }

    @Test func aSimplePrintFormatIsFollowedAsTheKernelPrintsIt() throws {
        let text = """
        name: sched_wakeup
        ID: 370
        format:
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
        \tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
        \tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;
        \tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;
        \tfield:int target_cpu;\toffset:32;\tsize:4;\tsigned:1;

        print fmt: "comm=%s pid=%d prio=%d target_cpu=%03d", REC->comm, REC->pid, REC->prio, REC->target_cpu
        """
        let format = try TracepointFormat(parsing: text)
        #expect(format.printFormat?.count == 8)
        var raw = [UInt8](repeating: 0, count: 36)
        for (index, byte) in "sleep".utf8.enumerated() { raw[8 + index] = byte }
        raw[24] = 0x39; raw[25] = 0x30  // 12345
        raw[28] = 120
        raw[32] = 1
        raw.withUnsafeBytes { #expect(format.describe($0) == "comm=sleep pid=12345 prio=120 target_cpu=001") }
        // Cut short: the print format cannot be followed, and the field list says what is missing.
        Array(raw.prefix(30)).withUnsafeBytes { #expect(format.describe($0) == "comm=sleep pid=12345 prio=? target_cpu=?") }
    }

    @Test func dynamicStringsAreReadThroughTheirLocation() throws {
        let text = """
        name: sched_process_exec
        ID: 300
        format:
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
        \tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
        \tfield:pid_t pid;\toffset:12;\tsize:4;\tsigned:1;
        """
        let format = try TracepointFormat(parsing: text)
        var raw = [UInt8](repeating: 0, count: 16) + Array("/bin/true".utf8) + [0]
        raw[8] = 16; raw[10] = 10  // offset 16, length 10
        raw[12] = 7
        raw.withUnsafeBytes { #expect(format.describe($0) == "filename=/bin/true pid=7") }
        raw[8] = 200  // a location outside the record
        raw.withUnsafeBytes { #expect(format.describe($0) == "filename=? pid=7") }
    }

    @Test(arguments: ["ID: 5\n", "name: x\n", "name: x\nID: nope\n",
                      "name: x\nID: 1\n\tfield:int a;\toffset:70000;\tsize:4;\tsigned:1;\n",
                      "name: x\nID: 1\n\tfield:int a;\tsize:4;\n"])
    func refusesMalformedText(_ text: String) {
        #expect(throws: TracepointFormatError.self) { try TracepointFormat(parsing: text) }
    }
}
