import PerfABI
import ProfileModel
import Symbolication

/// The profile of records read live from the rings (`perch top`), kept up to date as they come:
/// the same parts as a report of a file — ``ProcessModel``, ``StackResolver``, ``ThreadTable``,
/// ``StackCounts``, ``ProfileAssembly`` — fed pass by pass instead of from ``TimedRecord``s.
///
/// The rings are per CPU, so a pass holds each CPU's records in order but not the CPUs' records
/// merged: each pass is sorted by time before it is read (a process's MMAP on one CPU then comes
/// before its first sample on another). Symbols come from a ``LiveSymbolizer``, so ``profile()``
/// never waits for a debug file: an address not named yet reads `module+0xoffset`.
///
/// Not thread-safe: one thread adds the records and asks for profiles.
public final class LiveProfile {
    /// What was drained, counted as it comes.
    public struct Counters: Sendable, Equatable {
        public var samples: UInt64 = 0
        /// Samples taken in kernel mode.
        public var kernelSamples: UInt64 = 0
        /// Records the kernel could not write because the ring was full (PERF_RECORD_LOST).
        public var lostRecords: UInt64 = 0
        /// Samples dropped by the kernel (PERF_RECORD_LOST_SAMPLES).
        public var lostSamples: UInt64 = 0
        public var throttleEvents: UInt64 = 0
        /// Records that could not be decoded.
        public var malformedRecords: UInt64 = 0

        public init() {}

        mutating func add(_ other: Counters) {
            samples = samples.addingSaturated(other.samples)
            kernelSamples = kernelSamples.addingSaturated(other.kernelSamples)
            lostRecords = lostRecords.addingSaturated(other.lostRecords)
            lostSamples = lostSamples.addingSaturated(other.lostSamples)
            throttleEvents = throttleEvents.addingSaturated(other.throttleEvents)
            malformedRecords = malformedRecords.addingSaturated(other.malformedRecords)
        }
    }

    /// Since the view started.
    public private(set) var total = Counters()
    /// Since the last ``takeRecentCounters()``.
    private var recent = Counters()

    private let decoder: RecordDecoder
    private let layouts: [EventLayout]
    private let interpretation: RecordingInterpretation
    private let symbolizer: LiveSymbolizer
    private let model = ProcessModel()
    private var resolver: StackResolver
    private var threads = ThreadTable(splitByCPU: false)
    private var counts = StackCounts()
    private let summary: RecordingSummary

    /// The current pass's records, copied out of the rings, and where each starts.
    private var pass: [UInt8] = []
    private var passRecords: [(time: UInt64, offset: Int, length: Int)] = []
    /// The latest time read, given to records that carry none.
    private var latestTime: UInt64 = 0
    /// Locations before this one have been handed to the symbolizer.
    private var locationsAsked = 0
    /// Kept from one profile to the next, so a refresh costs what changed: every frame seen,
    /// each location's frames (outermost first) and whether they are final (named), and each
    /// counted node's frame path (dropped whenever a location's frames change).
    private var frames = Interner<Frame>()
    private var expanded: [[Int32]] = []
    private var final: [Bool] = []
    private var paths: [Int32: [Int32]] = [:]

    /// - Parameter events: the recording's events; the first is the profile's.
    public init(events: [EventDescription], symbolizer: LiveSymbolizer) {
        decoder = RecordDecoder(events: events)
        layouts = events.map { EventLayout(attributes: $0.attributes) }
        interpretation = RecordingInterpretation(events: events)
        self.symbolizer = symbolizer
        resolver = StackResolver(interpretation: interpretation, symbolizer: symbolizer)
        let main = events[0]
        var summary = RecordingSummary(event: main.name, frequency: main.attributes.frequency, period: main.attributes.period)
        summary.callGraph = interpretation.recordedChains
        self.summary = summary
        pass.reserveCapacity(1 << 20)
    }

    /// Takes one record (copied: the ring's bytes are reused once the pass ends).
    public func add(_ record: UnsafeRawBufferPointer) {
        guard record.count >= 8 else { return }
        var time = latestTime
        let layout = layouts[decoder.eventIndex(of: record)]
        if RecordDecoder.type(of: record) == RecordType.sample.rawValue {
            if let sampled = layout.time(ofSample: record) { time = sampled }
        } else if let trailer = layout.trailerTime(of: record), trailer != 0 {
            time = trailer
        }
        passRecords.append((time, pass.count, record.count))
        pass.append(contentsOf: record)
    }

    /// Reads the pass's records in time order.
    public func endPass() {
        guard !passRecords.isEmpty else { return }
        // (time, offset) is a total order: records without a time keep their place.
        passRecords.sort { $0.time != $1.time ? $0.time < $1.time : $0.offset < $1.offset }
        pass.withUnsafeBytes { bytes in
            for entry in passRecords {
                process(UnsafeRawBufferPointer(rebasing: bytes[entry.offset..<(entry.offset + entry.length)]))
            }
        }
        if let last = passRecords.last, last.time > latestTime { latestTime = last.time }
        pass.removeAll(keepingCapacity: true)
        passRecords.removeAll(keepingCapacity: true)
        askForNewNames()
    }

    /// Asks the symbolizer about each location first seen in this pass, so its name is usually
    /// there by the next refresh.
    private func askForNewNames() {
        let locations = resolver.locations.locations
        guard locationsAsked < locations.count else { return }
        for location in locations[locationsAsked...] {
            switch location {
            case .user(let dso, let offset): _ = symbolizer.symbolize(path: model.dsos[Int(dso)], fileOffset: offset)
            case .kernel(let address): _ = symbolizer.symbolizeKernel(address: address)
            case .unmapped, .truncated, .label, .jit: break
            }
        }
        locationsAsked = locations.count
    }

    /// The counters since the last call, which start again from zero.
    public func takeRecentCounters() -> Counters {
        defer { recent = Counters() }
        return recent
    }

    /// Forgets every sample counted so far (names, maps and symbols stay).
    public func zero() {
        counts.removeAll()
    }


    /// Multiplies every count by 7/8, as `perf top` does at each refresh with decay on.
    public func decay() {
        counts.scale(by: 7, over: 8)
    }

    /// The profile of everything counted: threads by name, stacks by node, each location named
    /// as far as the symbolizer has got.
    public func profile(notes: [ReportNote] = []) -> Profile {
        var summary = self.summary
        summary.sampleCount = total.samples
        summary.lostRecords = total.lostRecords
        summary.lostSamples = total.lostSamples
        summary.throttleEvents = total.throttleEvents
        summary.malformedRecords = total.malformedRecords
        summary.notes = notes
        updateExpansions()
        var profile = Profile(summary: summary, metric: .samples)
        profile.summary.notes += symbolizer.buildIDMismatches.map { ReportNote(.fileChanged, $0.description) }
        profile.frames = frames.values
        if profile.frames.contains(where: { $0.kind == .inlined }) { profile.summary.inlinedFunctions = .shown }
        profile.threads = threads.threads
        profile.stacks.reserveCapacity(counts.keys.count)
        for (row, key) in counts.keys.enumerated() where counts.samples[row] > 0 {
            let path = paths[key.node] ?? {
                let path = resolver.tree.path(to: key.node).flatMap { expanded[Int($0)] }
                paths[key.node] = path
                return path
            }()
            profile.stacks.append(StackSample(thread: key.thread, frames: path, value: counts.samples[row],
                                              samples: counts.samples[row], period: counts.periods[row]))
        }
        return profile
    }

    /// Expands the locations that are new, or whose names have arrived since the last profile.
    private func updateExpansions() {
        let assembly = ProfileAssembly(symbolizer: symbolizer, model: model)
        let locations = resolver.locations.locations
        var changed = false
        for index in locations.indices where index >= expanded.count || !final[index] {
            let location = locations[index]
            let isFinal: Bool
            switch location {
            case .user(let dso, let offset): isFinal = symbolizer.hasName(path: model.dsos[Int(dso)], fileOffset: offset)
            case .kernel(let address): isFinal = symbolizer.hasKernelName(address: address)
            case .unmapped, .truncated, .label, .jit: isFinal = true
            }
            let ids = assembly.frames(of: location, resolver: resolver).map { frames.intern($0) }
            if index < expanded.count {
                if ids != expanded[index] { changed = true }
                expanded[index] = ids
                final[index] = isFinal
            } else {
                expanded.append(ids)
                final.append(isFinal)
            }
        }
        if changed { paths.removeAll(keepingCapacity: true) }
    }

    private func process(_ record: UnsafeRawBufferPointer) {
        var counted = Counters()
        defer {
            recent.add(counted)
            total.add(counted)
        }
        if RecordDecoder.type(of: record) == RecordType.sample.rawValue {
            guard decoder.eventIndex(of: record) == interpretation.mainEvent else { return }
            guard let sample = try? decoder.decodeSample(record) else {
                counted.malformedRecords = 1
                return
            }
            counted.samples = 1
            if sample.misc.cpuMode == .kernel || sample.misc.cpuMode == .hypervisor { counted.kernelSamples = 1 }
            let node = resolver.node(for: sample, root: nil, model: model)
            let thread = threads.id(pid: sample.pid, tid: sample.tid, cpu: Int32(bitPattern: sample.cpu), model: model)
            counts.add(thread: thread, node: node, period: sample.period)
            return
        }
        guard let decoded = try? decoder.decode(record) else {
            counted.malformedRecords = 1
            return
        }
        if model.apply(decoded, resolver: &resolver, threads: &threads) { return }
        switch decoded {
        case .lost(_, let count, _):
            counted.lostRecords = count
        case .lostSamples(let count, _):
            counted.lostSamples = count
        case .throttle:
            counted.throttleEvents = 1
        case .sample, .mmap, .comm, .fork, .unthrottle, .contextSwitch, .exit, .finishedRound, .other:
            break
        }
    }
}
