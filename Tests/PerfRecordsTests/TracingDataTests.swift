import Testing
import TestSupport
import PerfABI
@testable import PerfRecords
import Glibc

/// Tracepoint formats in the TRACING_DATA feature: what Perch writes reads back, and a section
/// cut anywhere gives the formats read before the cut, never a crash.
@Suite struct TracingDataTests {
    static let formats = [
        RecordedTracepointFormat(event: "sched:sched_switch", format: "name: sched_switch\nID: 372\nformat:\n\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"),
        RecordedTracepointFormat(event: "sched:sched_wakeup", format: "name: sched_wakeup\nID: 370\nformat:\n\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n"),
        RecordedTracepointFormat(event: "irq:irq_handler_entry", format: "name: irq_handler_entry\nID: 100\nformat:\n"),
    ]

    @Test func formatsRoundTripThroughTheSection() {
        let bytes = TracingData.encode(formats: Self.formats, headers: ("header_page text", "header_event text"))
        let read = bytes.withUnsafeBytes { TracingData.formats(in: $0) }
        #expect(Set(read) == Set(Self.formats))
    }

    @Test func aCutSectionGivesWhatWasReadBeforeTheCut() {
        let bytes = TracingData.encode(formats: Self.formats, headers: ("p", "e"))
        for length in stride(from: 0, to: bytes.count, by: 7) {
            let read = Array(bytes.prefix(length)).withUnsafeBytes { TracingData.formats(in: $0) }
            #expect(read.count <= Self.formats.count)
            #expect(read.allSatisfy { Self.formats.contains($0) })
        }
        // Not tracing data at all.
        #expect([UInt8](repeating: 0xff, count: 64).withUnsafeBytes { TracingData.formats(in: $0) }.isEmpty)
    }

    @Test func aPerfDataFileCarriesItsTracepointFormats() throws {
        let path = "/tmp/perch-tracing-\(getpid()).data"
        defer { unlink(path) }
        var attributes = samplingAttributes()
        attributes.kind = .other(type: EventType.tracepoint.rawValue, config: 372)
        attributes.sampleType.insert(.raw)
        var features = PerfDataFeatures()
        features.tracepointFormats = [Self.formats[0]]
        _ = try SyntheticPerfData.write([.finishedRound], to: path,
                                    events: [EventDescription(attributes: attributes, ids: [1], name: "sched:sched_switch")], features: features)
        let file = try PerfDataFile(path: path)
        #expect(file.features.tracepointFormats == [Self.formats[0]])
        #expect(file.events[0].name == "sched:sched_switch")
    }
}
