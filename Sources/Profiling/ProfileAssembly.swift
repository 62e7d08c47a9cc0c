import ProfileModel
import Symbolication

/// Symbolizes each unique location once and lays the counted stacks out as a ``Profile``.
struct ProfileAssembly {
    let symbolizer: AddressSymbolizer
    let model: ProcessModel
    /// Names for code no symbol covers, from `.eh_frame`.
    let unnamed = UnnamedFunctions()

    /// The profile of `counts` over `resolver`'s tree, in `metric`.
    func profile(summary: RecordingSummary, metric: Metric, counts: StackCounts, resolver: StackResolver,
                 threads: [ThreadInfo]) -> Profile {
        var profile = Profile(summary: summary, metric: metric)
        var frames = Interner<Frame>()
        lookUpTogether(resolver.locations.locations)
        // Each unique location is symbolized once; inline expansions are outermost first.
        let expanded: [[Int32]] = resolver.locations.locations.map { location in
            self.frames(of: location, resolver: resolver).map { frames.intern($0) }
        }
        profile.summary.notes += symbolizer.buildIDMismatches.map { ReportNote(.fileChanged, $0.description) }
        profile.summary.notes += model.imageNotes.map { ReportNote(.fileChanged, $0) }
        profile.frames = frames.values
        if profile.frames.contains(where: { $0.kind == .inlined }) { profile.summary.inlinedFunctions = .shown }
        profile.threads = threads
        profile.stacks.reserveCapacity(counts.keys.count)
        for (row, key) in counts.keys.enumerated() {
            let path = resolver.tree.path(to: key.node).flatMap { expanded[Int($0)] }
            let samples = counts.samples[row], period = counts.periods[row]
            profile.stacks.append(StackSample(thread: key.thread, frames: path, value: metric.unit == .samples ? samples : period,
                                              samples: samples, period: period))
        }
        profile.stacks.sort { $0.period != $1.period ? $0.period > $1.period : $0.thread < $1.thread }
        return profile
    }

    /// Symbolizes the user locations of each file in one batch (DSOs in the order they first
    /// appear, as one-by-one lookups would load them), so that `frames(of:)` finds them cached:
    /// the symbolizer can then demangle a file's names on all CPUs.
    func lookUpTogether(_ locations: [Location]) {
        var images: [String] = []
        var offsets: [String: [UInt64]] = [:]
        for location in locations {
            guard case .user(let dso, let offset) = location else { continue }
            let image = model.imagePath(ofDSO: dso)
            if offsets[image] == nil { images.append(image) }
            offsets[image, default: []].append(offset)
        }
        for image in images {
            guard let batch = offsets[image] else { continue }
            _ = symbolizer.symbolize(path: image, fileOffsets: batch)
        }
    }

    /// The frames one location stands for, outermost first.
    func frames(of location: Location, resolver: StackResolver) -> [Frame] {
        switch location {
        case .kernel(let address):
            if let resolved = symbolizer.symbolizeKernel(address: address) {
                let dso = resolved.module.map { "[\($0)]" } ?? "[kernel.kallsyms]"
                return [Frame(symbol: resolved.frame.function, dso: dso, kind: .kernel, language: resolved.frame.language, address: address)]
            }
            return [Frame(symbol: Frame.unknownSymbol, dso: "[kernel.kallsyms]", kind: .kernel, address: address)]
        case .unmapped(let address):
            return [Frame(symbol: Frame.unknownSymbol, dso: Frame.unknownSymbol, kind: .user, address: address)]
        case .truncated:
            return [Frame(symbol: "[truncated]", dso: Frame.unknownSymbol, kind: .user)]
        case .jit(let pid, let address):
            let name = resolver.jitMaps.name(pid: pid, address: address) ?? Frame.unknownSymbol
            return [Frame(symbol: name, dso: "/tmp/perf-\(pid).map", kind: .jit, address: address)]
        case .label(let index):
            return [Frame(symbol: resolver.labels[Int(index)], dso: "[perch]", kind: .user)]
        case .user(let dso, let offset):
            // The DSO as the recording names it; the file its symbols are read from ([vdso]: the kept copy).
            let path = model.dsos[Int(dso)], image = model.imagePath(ofDSO: dso)
            let symbolized = symbolizer.symbolize(path: image, fileOffset: offset)
            if symbolized.isEmpty {
                // No symbol: named by the function start its FDE gives (gzip+0x4300), else unknown.
                let name = unnamed.name(path: image, fileOffset: offset, expectedBuildID: model.expectedBuildID(ofDSO: dso),
                                        moduleName: path.split(separator: "/").last.map(String.init) ?? path)
                return [Frame(symbol: name ?? Frame.unknownSymbol, dso: path, kind: .user, address: offset)]
            }
            return symbolized.reversed().map { frame in
                let name = frame.function == "??" || frame.function.isEmpty ? Frame.unknownSymbol : frame.function
                return Frame(symbol: name, dso: path, kind: frame.isInlined ? .inlined : .user, language: frame.language,
                             address: offset, source: frame.sourceFile.map { SourceLocation(file: $0, line: frame.line) })
            }
        }
    }
}
