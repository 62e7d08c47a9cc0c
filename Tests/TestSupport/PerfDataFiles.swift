import PerfABI
import PerfRecords

/// One item of a synthetic data section: a record, or a FINISHED_ROUND marker.
public enum PerfDataItem: Sendable {
    case record([UInt8])
    case finishedRound
}

extension PerfDataWriter {
    /// Appends one record built by `RecordBytes`.
    public func append(_ record: [UInt8]) {
        record.withUnsafeBytes { append($0) }
    }

    /// Appends `item`; returns the record's offset in the data section (nil for a marker).
    @discardableResult
    public func append(_ item: PerfDataItem) -> Int? {
        switch item {
        case .record(let bytes):
            let offset = bytesWritten
            append(bytes)
            return offset
        case .finishedRound:
            appendFinishedRound()
            return nil
        }
    }
}

/// Synthetic perf.data files, written by the real `PerfDataWriter`.
public enum SyntheticPerfData {
    /// One `samplingAttributes()` event with id 7 (the identifier `sampleRecord` writes).
    public static var samplingEvents: [EventDescription] { [EventDescription(attributes: samplingAttributes(), ids: [7])] }

    /// Writes `items` to `path` and finishes the file with `features`. Returns the data offset of
    /// each record, in the order written (markers not counted).
    @discardableResult
    public static func write(
        _ items: [PerfDataItem], to path: String, events: [EventDescription] = samplingEvents,
        features: PerfDataFeatures = PerfDataFeatures()
    ) throws -> [Int] {
        let writer = try PerfDataWriter(path: path, events: events)
        let offsets = items.compactMap { writer.append($0) }
        try writer.finish(features: features)
        return offsets
    }
}
