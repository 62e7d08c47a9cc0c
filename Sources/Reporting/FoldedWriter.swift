import ProfileModel

/// Writes folded stacks (`root;outer;...;leaf count`) as `stackcollapse-perf.pl` does.
///
/// - The root frame is the command (spaces as `_`), `comm-pid` or `comm-pid/tid` (per
///   ``FoldedOptions``); without ``FoldedOptions/includeComm`` it is `pid` or `pid/tid`, or absent.
/// - Frames are symbols, outermost first. An unknown symbol becomes `[module]` (the DSO's last path
///   component) or `[unknown]`; with ``FoldedOptions/addresses``, `[module <7f12ab>]` /
///   `[unknown <7f12ab>]` — stackcollapse-perf's `--addrs` form, the raw hex address without `0x`.
/// - `;` inside names becomes `:` and line breaks become spaces, so lines stay parseable. Unlike
///   stackcollapse-perf's "tidy" mode, argument lists are kept (Swift and C++ names need them).
/// - Counts are the profile's metric: samples, or nanoseconds for off-CPU profiles. Stacks that
///   fold to the same line (e.g. threads of one command) are merged; lines are sorted bytewise like
///   Perl's `sort { $a cmp $b }`. Stacks with a zero count are skipped.
public enum FoldedWriter {
    /// The folded text, one `\n`-terminated line per unique folded stack.
    public static func write(_ profile: Profile, options: FoldedOptions = FoldedOptions()) -> String {
        String(decoding: bytes(profile, options: options), as: UTF8.self)
    }

    /// Streams the folded lines into `output`, one line (with its `\n`) per `write` call.
    public static func write(
        _ profile: Profile, options: FoldedOptions = FoldedOptions(), to output: inout some TextOutputStream
    ) {
        for (line, count) in foldedLines(profile, options: options) {
            output.write(String(decoding: line, as: UTF8.self) + " \(count)\n")
        }
    }

    /// The folded text as UTF-8 bytes.
    public static func bytes(_ profile: Profile, options: FoldedOptions = FoldedOptions()) -> [UInt8] {
        var out: [UInt8] = []
        for (line, count) in foldedLines(profile, options: options) {
            out.append(contentsOf: line)
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: "\(count)\n".utf8)
        }
        return out
    }

    /// Sorted unique folded keys (without the count) and their summed sample counts.
    static func foldedLines(_ profile: Profile, options: FoldedOptions) -> [(line: [UInt8], count: UInt64)] {
        // Names are built once per thread and per interned frame, then interned to ids.
        var names = Interner<String>()
        let dsoNames = DSONames(profile)
        let frameName = profile.frames.map { names.intern(frameLabel($0, options: options, dsoNames: dsoNames)) }
        let unknownFrame = names.intern(frameLabel(.unknown, options: options, dsoNames: dsoNames))
        let hasRoot = options.includeComm || options.includePid || options.includeTid
        let threadRoot = profile.threads.map { names.intern(rootLabel($0, options: options)) }
        let unknownRoot = names.intern(rootLabel(.unknown, options: options))

        // Stacks that fold to the same line meet at one node of the tree.
        var tree = PrefixTree(capacity: profile.stacks.count * 4)
        var nodeValue: [UInt64] = [0]
        var key: [Int32] = []
        for stack in profile.stacks where stack.value > 0 {
            key.removeAll(keepingCapacity: true)
            if hasRoot {
                let t = Int(stack.thread)
                key.append(t >= 0 && t < threadRoot.count ? threadRoot[t] : unknownRoot)
            }
            for f in stack.frames {
                key.append(f >= 0 && Int(f) < frameName.count ? frameName[Int(f)] : unknownFrame)
            }
            if key.isEmpty { continue }
            let node = Int(tree.node(for: key))
            if node >= nodeValue.count { nodeValue += repeatElement(0, count: node + 1 - nodeValue.count) }
            nodeValue[node] = nodeValue[node].addingSaturated(stack.value)
        }

        let nameBytes = names.values.map { Array($0.utf8) }
        var lines: [(line: [UInt8], count: UInt64)] = []
        for node in nodeValue.indices where nodeValue[node] > 0 {
            var line: [UInt8] = []
            for (i, id) in tree.path(to: Int32(node)).enumerated() {
                if i > 0 { line.append(UInt8(ascii: ";")) }
                line.append(contentsOf: nameBytes[Int(id)])
            }
            lines.append((line, nodeValue[node]))
        }
        lines.sort { $0.line.lexicographicallyPrecedes($1.line) }
        return lines
    }

    /// The root frame for a thread.
    static func rootLabel(_ thread: ThreadInfo, options: FoldedOptions) -> String {
        var ids = ""
        if options.includeTid { ids = "\(thread.pid)/\(thread.tid)" } else if options.includePid { ids = "\(thread.pid)" }
        guard options.includeComm else { return ids }
        let comm = sanitize(thread.comm).replacingAll(" ", with: "_")
        return ids.isEmpty ? comm : comm + "-" + ids
    }

    /// The folded name of one frame.
    static func frameLabel(_ frame: Frame, options: FoldedOptions, dsoNames: DSONames) -> String {
        var name: String
        if frame.isUnknownSymbol {
            let module = frame.dso == Frame.unknownSymbol || frame.dso.isEmpty ? "unknown" : dsoNames.name(of: frame.dso)
            name = options.addresses
                ? "[\(module) <\(String(frame.address, radix: 16))>]"
                : "[\(module)]"
        } else {
            name = frame.symbol
        }
        name = sanitize(name)
        switch frame.kind {
        case .kernel where options.annotateKernel: name += "_[k]"
        case .jit where options.annotateJIT: name += "_[j]"
        case .inlined where options.annotateInlined: name += "_[i]"
        default: break
        }
        return name
    }

    /// `;` to `:` and line breaks to spaces.
    private static func sanitize(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: ";") || $0 == 10 || $0 == 13 }) else { return s }
        return String(s.map { c -> Character in
            switch c {
            case ";": ":"
            case "\n", "\r", "\r\n": " "
            default: c
            }
        })
    }
}

extension String {
    /// Every occurrence of `target` replaced (avoids a Foundation dependency).
    fileprivate func replacingAll(_ target: Character, with replacement: Character) -> String {
        guard contains(target) else { return self }
        return String(map { $0 == target ? replacement : $0 })
    }
}
