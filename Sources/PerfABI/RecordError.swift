/// Why a record or a perf.data file could not be read.
public enum RecordError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The record's declared size is smaller than its fields need.
    case truncated(type: UInt32, size: Int, needed: Int)
    /// The header's size field is impossible (below 8 bytes or beyond the data).
    case badSize(type: UInt32, size: Int)
    /// A sample field Perch cannot skip without more information.
    case unsupportedSampleLayout(String)
    /// No attribute matches the record's id.
    case unknownEventID(UInt64)

    public var description: String {
        switch self {
        case .truncated(let type, let size, let needed):
            "record type \(type) is truncated: \(size) bytes, needs \(needed)"
        case .badSize(let type, let size):
            "record type \(type) has an impossible size \(size)"
        case .unsupportedSampleLayout(let what):
            "cannot decode sample: \(what)"
        case .unknownEventID(let id):
            "record refers to unknown event id \(id)"
        }
    }
}
