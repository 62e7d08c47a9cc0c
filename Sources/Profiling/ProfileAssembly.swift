import ProfileModel
import Symbolication

/// Symbolizes each unique location once and lays the counted stacks out as a ``Profile``.
struct ProfileAssembly {
    let symbolizer: AddressSymbolizer
    let model: ProcessModel

    /// The profile of `counts` over `resolver`'s tree, in `metric`.
    func profile(summary: RecordingSummary, metric: Metric, counts: StackCounts, resolver: StackResolver,
                 threads: [ThreadInfo]) -> Profile {
        var profile = Profile(summary: summary, metric: metric)
        var frames = Interner<Frame>()
        // Each unique location is symbolized once; inline expansions are outermost first.
        let expanded: [[Int32]] = resolver.locations.locations.map { location in
            self.frames(of: location, resolver: resolver).map { frames.intern($0) }
        }
        profile.summary.notes += symbolizer.buildIDMismatches.map { ReportNote(.fileChanged, $0.description) }
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
            let path = model.dsos[Int(dso)]
            let symbolized = symbolizer.symbolize(path: path, fileOffset: offset)
            if symbolized.isEmpty {
                return [Frame(symbol: Frame.unknownSymbol, dso: path, kind: .user, address: offset)]
            }
            return symbolized.reversed().map { frame in
                let name = frame.function == "??" || frame.function.isEmpty ? Frame.unknownSymbol : frame.function
                return Frame(symbol: name, dso: path, kind: frame.isInlined ? .inlined : .user, language: frame.language,
                             address: offset, source: frame.sourceFile.map { SourceLocation(file: $0, line: frame.line) })
            }
        }
    }
}
