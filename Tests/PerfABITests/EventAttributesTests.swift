import Testing
@testable import PerfABI
import PerfEvents

@Test func attributesRoundTripThroughTheKernelLayout() {
    var attributes = EventAttributes(kind: .cpuClock)
    attributes.samplePeriodOrFrequency = 4000
    attributes.flags = [.frequency, .disabled, .inherit, .sampleIDAll, .mmap2, .enableOnExec]
    attributes.sampleType = [.identifier, .ip, .tid, .time, .cpu, .period, .callchain]
    attributes.preciseIP = 2
    let bytes = attributes.encoded()
    #expect(bytes.count == 128)
    let decoded = bytes.withUnsafeBytes { EventAttributes(bytes: $0) }
    #expect(decoded == attributes)
    #expect(decoded.frequency == 4000)
    #expect(decoded.sampleIDSize == 8 * 4)
}

@Test func cpuListsParse() {
    #expect(parseCPUList("0-3,5,7-8") == [0, 1, 2, 3, 5, 7, 8])
    #expect(parseCPUList("0\n") == [0])
    #expect(parseCPUList("x") == nil)
}
