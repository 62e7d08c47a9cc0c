/// How a profile's DSOs are shown: each by the shortest tail of its path that no other DSO of the
/// profile shares, so `/usr/bin/git` and `/usr/lib/git-core/git` read `bin/git` and `git-core/git`
/// rather than two rows both called `git`. A DSO whose file name is unique keeps just that name,
/// as perf shows it; names in brackets (`[kernel.kallsyms]`, `[vdso]`) stay as they are.
public struct DSONames: Sendable {
    private var names: [String: String] = [:]

    /// The names for every DSO of `profile`'s frames.
    public init(_ profile: Profile) {
        self.init(paths: profile.frames.map(\.dso))
    }

    public init(paths: some Sequence<String>) {
        var byFileName: [Substring: Set<String>] = [:]
        // Each path once: a profile's frames name a few DSOs tens of thousands of times.
        for path in Set(paths) where path.contains("/") {
            byFileName[Self.components(path).last ?? Substring(path), default: []].insert(path)
        }
        for (fileName, group) in byFileName {
            guard group.count > 1 else {
                names[group.first!] = String(fileName)
                continue
            }
            let split = group.map { (path: $0, parts: Self.components($0)) }
            for (path, parts) in split {
                var take = 2
                while take < parts.count {
                    let tail = parts.suffix(take)
                    let shared = split.contains { $0.path != path && $0.parts.count >= take && $0.parts.suffix(take).elementsEqual(tail) }
                    if !shared { break }
                    take += 1
                }
                names[path] = take >= parts.count ? path : parts.suffix(take).joined(separator: "/")
            }
        }
    }

    /// The name to show for the DSO at `path`.
    public func name(of path: String) -> String {
        if let name = names[path] { return name }
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private static func components(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}
