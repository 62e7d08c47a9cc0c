/// A DSO whose file on disk is not the one a recording mapped.
public struct BuildIDMismatch: Sendable, Equatable {
    public var path: String
    public var recorded: [UInt8]
    public var onDisk: [UInt8]

    /// The note a report shows.
    public var description: String {
        "\(path) changed since the recording (build id \(ELFImage.hex(recorded)) recorded, \(ELFImage.hex(onDisk)) on disk): its samples are shown as [unknown]"
    }
}

/// The build ids a recording saw for each path, checked against the image a symbolizer opened
/// (so the file is not opened again just to read its id). A path whose file changed is not
/// symbolized: its addresses would name the wrong functions.
struct BuildIDExpectations {
    private var expected: [String: [UInt8]] = [:]
    private var verdicts: [String: Bool] = [:]
    /// Every mismatch found, in the order found.
    private(set) var mismatches: [BuildIDMismatch] = []

    mutating func expect(_ buildID: [UInt8], forPath path: String) {
        expected[path] = buildID
        verdicts[path] = nil
    }

    /// Whether the image opened for `path`, with build id `onDisk`, may name its addresses.
    mutating func allows(path: String, onDisk: [UInt8]?) -> Bool {
        if let verdict = verdicts[path] { return verdict }
        var verdict = true
        if let recorded = expected[path], let onDisk, onDisk != recorded {
            verdict = false
            mismatches.append(BuildIDMismatch(path: path, recorded: recorded, onDisk: onDisk))
        }
        verdicts[path] = verdict
        return verdict
    }
}
