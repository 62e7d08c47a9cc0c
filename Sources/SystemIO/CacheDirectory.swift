#if canImport(Glibc)
import Glibc
#endif

/// Perch's per-user cache: `$XDG_CACHE_HOME/perch`, else `$HOME/.cache/perch` (the XDG base
/// directory rule). Relative or empty variables are ignored, as the specification asks.
public enum CacheDirectory {
    /// The directory for `part` (e.g. `vdso`), or nil when neither variable names an absolute path.
    public static func path(for part: String) -> String? {
        if let cache = absoluteEnvironment("XDG_CACHE_HOME") { return "\(cache)/perch/\(part)" }
        if let home = absoluteEnvironment("HOME") { return "\(home)/.cache/perch/\(part)" }
        return nil
    }

    /// An environment variable's value when it is an absolute path.
    public static func absoluteEnvironment(_ name: String) -> String? {
        guard let value = getenv(name).map({ String(cString: $0) }), value.hasPrefix("/") else { return nil }
        return value
    }
}
