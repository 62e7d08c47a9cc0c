
/// Where one event's fixed-position fields sit in its records, worked out once from its
/// attributes so that readers need not walk `sample_type` for every record.
///
/// A SAMPLE record starts with `PERF_SAMPLE_IDENTIFIER`, `IP`, `TID`, `TIME`, `ADDR`, `ID` (each
/// 8 bytes, present or not per `sample_type`). Other kernel records end with the `sample_id_all`
/// trailer: `TID`, `TIME`, `ID`, `STREAM_ID`, `CPU`, `IDENTIFIER`, when `sample_id_all` is set.
public struct EventLayout: Sendable, Equatable {
    /// Byte offset of the time in a SAMPLE record (header included); nil without `PERF_SAMPLE_TIME`.
    public let sampleTimeOffset: Int?
    /// Byte offset of the event id in a SAMPLE record: `PERF_SAMPLE_IDENTIFIER` (right after the
    /// header) if present, else `PERF_SAMPLE_ID`; nil with neither.
    public let sampleIDOffset: Int?
    /// Bytes of the `sample_id_all` trailer at the end of non-sample records (0 without `sample_id_all`).
    public let trailerSize: Int
    /// Distance of the trailer's time from the end of a non-sample record; nil when the trailer has no time.
    public let trailerTimeFromEnd: Int?
    /// Distance of the trailer's event id (`IDENTIFIER`, else `ID`) from the end of a non-sample
    /// record; nil when the trailer has neither.
    public let trailerIDFromEnd: Int?

    public init(attributes: EventAttributes) {
        let sampleType = attributes.sampleType
        func offset(after fields: [SampleType]) -> Int {
            8 + fields.filter { sampleType.contains($0) }.count * 8
        }
        sampleTimeOffset = sampleType.contains(.time) ? offset(after: [.identifier, .ip, .tid]) : nil
        if sampleType.contains(.identifier) {
            sampleIDOffset = 8
        } else if sampleType.contains(.id) {
            sampleIDOffset = offset(after: [.ip, .tid, .time, .addr])
        } else {
            sampleIDOffset = nil
        }
        let size = attributes.sampleIDSize
        trailerSize = size
        let tidSize = sampleType.contains(.tid) ? 8 : 0
        trailerTimeFromEnd = size > 0 && sampleType.contains(.time) ? size - tidSize : nil
        if size > 0 && sampleType.contains(.identifier) {
            trailerIDFromEnd = 8
        } else if size > 0 && sampleType.contains(.id) {
            trailerIDFromEnd = size - tidSize - (sampleType.contains(.time) ? 8 : 0)
        } else {
            trailerIDFromEnd = nil
        }
    }

    /// The time of a SAMPLE record of this event; nil without one or if the record is too short.
    @inlinable
    public func time(ofSample record: UnsafeRawBufferPointer) -> UInt64? {
        guard let at = sampleTimeOffset, record.count >= at + 8 else { return nil }
        return UInt64(littleEndian: record.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }

    /// The trailer time of a non-sample kernel record of this event; nil without one or if the
    /// record is too short to hold the trailer. (Synthesized records often carry 0 there.)
    @inlinable
    public func trailerTime(of record: UnsafeRawBufferPointer) -> UInt64? {
        guard let fromEnd = trailerTimeFromEnd, record.count >= 8 + trailerSize else { return nil }
        return UInt64(littleEndian: record.loadUnaligned(fromByteOffset: record.count - fromEnd, as: UInt64.self))
    }
}
