import Glibc
import SystemIO

/// Where a report finds the file behind `[vdso]`: the copy of the kernel's vdso that
/// `perch record` kept (`$XDG_CACHE_HOME/perch/vdso/<build id>`, else
/// `$HOME/.cache/perch/vdso/<build id>`; written by `VDSOImage` in Recording), or the one
/// `perf record` kept (`~/.debug/[vdso]/<build id>/vdso`). Found by the build id the recording
/// names for `[vdso]`; a copy whose own build id differs is not used.
public struct VDSOCache: Sendable {
    /// Directories holding `<build id>` files (Perch's layout).
    public var directories: [String]
    /// perf's build-id cache root (`~/.debug`), holding `[vdso]/<build id>/vdso`.
    public var perfCache: String?

    /// The cache as `perch record` writes it, and perf's.
    public init() {
        directories = CacheDirectory.path(for: "vdso").map { [$0] } ?? []
        perfCache = CacheDirectory.absoluteEnvironment("HOME").map { $0 + "/.debug" }
    }

    /// A cache in other places (tests).
    public init(directories: [String], perfCache: String? = nil) {
        self.directories = directories
        self.perfCache = perfCache
    }

    /// What a recording's `[vdso]` resolves to.
    public enum Resolution: Sendable, Equatable {
        /// The image to open for its symbols and CFI.
        case image(path: String)
        /// No copy with the recorded build id: `[vdso]` stays unsymbolized, for the reason given.
        case missing(reason: String)
    }

    /// The kept image with `buildID`.
    public func resolve(buildID: [UInt8]?) -> Resolution {
        guard let buildID, !buildID.isEmpty else {
            return .missing(reason: "the recording does not name the build id of [vdso] (recorded by an older perch?): its samples are shown as [unknown]")
        }
        let hex = ELFImage.hex(buildID)
        var candidates = directories.map { $0 + "/" + hex }
        if let perfCache { candidates.append(perfCache + "/[vdso]/" + hex + "/vdso") }
        for path in candidates where access(path, R_OK) == 0 {
            if ELFImage.readBuildID(path: path) == buildID { return .image(path: path) }
        }
        let places = (directories + (perfCache.map { [$0 + "/[vdso]"] } ?? [])).joined(separator: " or ")
        return .missing(reason: "the vdso image of the recording (build id \(hex)) is not in \(places.isEmpty ? "any cache" : places) (was it recorded on another kernel?): [vdso] samples are shown as [unknown]")
    }
}
