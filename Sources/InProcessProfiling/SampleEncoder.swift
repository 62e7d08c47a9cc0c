import CInProcessSampler
import PerfABI

/// Turns the sampler's captures into the records the kernel writes for a task-clock event with
/// `--call-graph dwarf`: SAMPLE with identifier, ip, tid, time, cpu, period, an empty call chain
/// (user frames come from unwinding), REGS_USER and STACK_USER; and COMM for threads found later.
struct SampleEncoder {
    static let eventID: UInt64 = 1
    /// `PERF_SAMPLE_REGS_ABI_64`.
    private static let registerABI64: UInt64 = 2
    #if arch(arm64)
    private static let instructionPointerSlot = 32
    #else
    private static let instructionPointerSlot = 8
    #endif

    let intervalNanoseconds: UInt64
    let attributes: EventAttributes

    init(intervalNanoseconds: UInt64, stackCopyBytes: Int) {
        self.intervalNanoseconds = intervalNanoseconds
        var attributes = EventAttributes(kind: .taskClock)
        attributes.samplePeriodOrFrequency = intervalNanoseconds
        attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period]
        attributes.flags = [.sampleIDAll, .mmap2, .comm, .excludeKernel, .excludeHypervisor]
        CallGraphMode.dwarf(stackSize: UInt32(stackCopyBytes)).apply(to: &attributes)
        self.attributes = attributes
    }

    /// The SAMPLE record of one capture, in the kernel's field order.
    func sample(_ capture: UnsafePointer<perch_sample>, pid: Int32) -> [UInt8] {
        let sample = capture.pointee
        var record = RecordEncoder(type: .sample, misc: 2)  // PERF_RECORD_MISC_USER
        let registers = withUnsafeBytes(of: sample.registers) { Array($0.bindMemory(to: UInt64.self)) }
        record.append(Self.eventID)
        record.append(registers[Self.instructionPointerSlot])
        record.append(UInt32(bitPattern: pid))
        record.append(UInt32(bitPattern: sample.tid))
        record.append(sample.time)
        record.append(sample.cpu)
        record.append(UInt32(0))
        record.append(intervalNanoseconds &* max(1, sample.expirations))
        record.append(UInt64(0))  // call chain: no kernel frames, user frames unwound
        record.append(Self.registerABI64)
        for register in registers { record.append(register) }
        let valid = Int(min(sample.stack_size, UInt64(attributes.sampleStackUser)))
        let size = (valid + 7) & ~7
        record.append(UInt64(size))
        let stack = UnsafeRawPointer(perch_sampler_stack(capture))!
        for offset in stride(from: 0, to: size, by: 8) {
            if offset + 8 <= valid {
                record.append(stack.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            } else {
                var word: UInt64 = 0
                withUnsafeMutableBytes(of: &word) { bytes in
                    for index in 0..<(valid - offset) { bytes[index] = stack.load(fromByteOffset: offset + index, as: UInt8.self) }
                }
                record.append(word)
            }
        }
        if size > 0 { record.append(UInt64(valid)) }
        return record.finished()
    }

    /// COMM for a thread found after the start, at `time`.
    func comm(pid: Int32, tid: Int32, name: String, time: UInt64) -> [UInt8] {
        var record = RecordEncoder(type: .comm)
        record.append(UInt32(bitPattern: pid))
        record.append(UInt32(bitPattern: tid))
        record.appendString(name)
        record.appendTrailer(pid: pid, tid: tid, time: time, id: Self.eventID, streamID: Self.eventID, sampleType: attributes.sampleType)
        return record.finished()
    }
}
