import PerfABI
import PerfRecords
import ProfileModel
import Symbolication
import Unwinding

/// Turns a perf.data file into a ``Profile``: replays the records in time order through the
/// process model, resolves each sample's stack into a tree of locations and counts it per thread,
/// pairs switch-outs with switch-ins for off-CPU time, then symbolizes each unique location once.
///
/// A dispatcher over small parts, each with one job: ``RecordingInterpretation`` (what the
/// attributes say), ``ProcessModel`` (threads and address spaces over time), ``StackResolver``
/// (raw stack → tree node), ``OffCPUAccounting`` (blocked intervals), ``ThreadTable`` and
/// ``StackCounts`` (aggregation), ``ProfileAssembly`` (symbolization and layout).
public final class ProfileBuilder {
    /// What a profile measures.
    public enum Weighting: Sendable {
        /// On-CPU samples of the recording's first event (the default report).
        case onCPU
        /// Nanoseconds between each switch-out and the next switch-in of the same thread, on
        /// the stack where it switched out (from the context-switches event) when recorded.
        case offCPU
        /// Both, under `[on-cpu]` and `[off-cpu]` roots, in nanoseconds.
        case onAndOffCPU

        /// The metric a profile of this weighting is in.
        var metric: Metric {
            switch self {
            case .onCPU: .samples
            case .offCPU: .offCPUTime
            case .onAndOffCPU: .onAndOffCPUTime
            }
        }
    }

    private let file: PerfDataFile
    private let decoder: RecordDecoder
    private let symbolizer: AddressSymbolizer
    private let interpretation: RecordingInterpretation
    private let weighting: Weighting
    /// Keep samples of different CPUs apart (for `--cpu`); each ``ThreadInfo`` then has its `cpu`.
    private let splitByCPU: Bool

    /// - Parameter event: the index (in `file.events`) of the event whose samples make the
    ///   profile; the samples of the others are only counted (``RecordingSummary/otherEventSamples``).
    public init(file: PerfDataFile, symbolizer: AddressSymbolizer, weighting: Weighting = .onCPU, splitByCPU: Bool = false,
                event: Int = 0) {
        self.file = file
        self.decoder = RecordDecoder(events: file.events)
        self.symbolizer = symbolizer
        self.interpretation = RecordingInterpretation(events: file.events, mainEvent: min(max(event, 0), file.events.count - 1))
        self.weighting = weighting
        self.splitByCPU = splitByCPU
    }

    /// Reads every record and returns the aggregated, symbolized profile.
    public func build() throws -> Profile {
        var state = Accumulation(builder: self)
        try TimeOrderedRecords(file: file).forEach { try state.process($0) }
        return state.finish()
    }

    /// Calls `visit` with each sample of every event, in time order, its stack resolved,
    /// unwound and symbolized as the profile's stacks are: the per-sample path (`perch script`).
    /// Nothing is aggregated; memory grows with the recording's unique stacks, not its samples.
    /// An error `visit` throws (a closed pipe) stops the reading and is rethrown.
    /// - Parameter symbolOffsets: give each frame its offset in its symbol (`sym+0x…`).
    /// - Parameter formatLookup: a tracepoint's tracefs format text, for recordings that do not
    ///   carry their formats (see ``TracepointFormats``).
    public func forEachSample(symbolOffsets: Bool = true, formatLookup: ((String) -> String?)? = nil,
                              _ visit: @escaping (ResolvedSample) throws -> Void) throws {
        var state = Accumulation(builder: self)
        state.perSample = PerSample(frames: SampleFrames(symbolizer: symbolizer, symbolOffsets: symbolOffsets),
                                    formats: TracepointFormats(file: file, lookup: formatLookup),
                                    names: file.events.map(\.name),
                                    sampleTypes: file.events.map(\.attributes.sampleType), visit: visit)
        try TimeOrderedRecords(file: file).forEach { try state.process($0) }
    }

    /// The per-sample path's state: where each sample goes instead of being counted.
    private struct PerSample {
        var frames: SampleFrames
        let formats: TracepointFormats
        let names: [String]
        let sampleTypes: [SampleType]
        let visit: (ResolvedSample) throws -> Void
        var scratch: [ResolvedFrame] = []
    }

    /// Everything that changes while the records are read, owned by one `build()` call.
    private struct Accumulation {
        let decoder: RecordDecoder
        let interpretation: RecordingInterpretation
        let weighting: Weighting
        let model: ProcessModel
        var resolver: StackResolver
        var threads: ThreadTable
        var counts = StackCounts()
        var offCPU = OffCPUAccounting()
        var summary: RecordingSummary
        let assembly: ProfileAssembly
        /// Set by ``forEachSample(symbolOffsets:_:)``: samples are handed on one by one, not counted.
        var perSample: PerSample?

        init(builder: ProfileBuilder) {
            decoder = builder.decoder
            interpretation = builder.interpretation
            weighting = builder.weighting
            resolver = StackResolver(interpretation: interpretation, symbolizer: builder.symbolizer)
            threads = ThreadTable(splitByCPU: builder.splitByCPU)
            model = ProcessModel(recordedBuildIDs: builder.file.features.buildIDs.map { ($0.path, $0.buildID) })
            assembly = ProfileAssembly(symbolizer: builder.symbolizer, model: model)
            let file = builder.file, main = file.events[interpretation.mainEvent]
            summary = RecordingSummary(event: main.name, frequency: main.attributes.frequency, period: main.attributes.period)
            summary.callGraph = interpretation.recordedChains
            summary.commandLine = file.features.commandLine?.joined(separator: " ")
            summary.notes = file.features.recordingNotes.map { ReportNote(ReportNote.Kind(rawValue: $0.kind) ?? .other, $0.text) }
            // A recording that says why the kernel was left out has said it better.
            if interpretation.excludesKernel, !summary.notes.contains(where: { $0.kind == .kernelFramesDropped }) {
                summary.notes.append(ReportNote(.kernelNotSampled, "kernel code was not sampled (exclude_kernel): kernel frames are absent"))
            }
        }

        mutating func process(_ timed: TimedRecord) throws {
            let record = timed.bytes
            if timed.type == RecordType.sample.rawValue {
                let sample: SampleRecord
                do {
                    sample = try decoder.decodeSample(record)
                } catch {
                    summary.malformedRecords += 1
                    return
                }
                if perSample != nil { return try handOn(sample, event: timed.eventIndex) }
                processSample(sample, event: timed.eventIndex)
                return
            }
            let decoded: Record
            do {
                decoded = try decoder.decode(record)
            } catch {
                summary.malformedRecords += 1
                return
            }
            if model.apply(decoded, resolver: &resolver, threads: &threads) { return }
            switch decoded {
            case .sample(let sample):
                if perSample != nil { return try handOn(sample, event: timed.eventIndex) }
                processSample(sample, event: timed.eventIndex)
            case .lost(_, let count, _):
                summary.lostRecords = summary.lostRecords.addingSaturated(count)
            case .lostSamples(let count, _):
                summary.lostSamples = summary.lostSamples.addingSaturated(count)
            case .throttle:
                summary.throttleEvents += 1
            case .unthrottle:
                summary.unthrottleEvents += 1
            case .contextSwitch(let change):
                guard weighting != .onCPU, change.sampleID.tid > 0 else { return }
                let id = change.sampleID
                if change.isOut {
                    offCPU.switchedOut(pid: id.pid, tid: id.tid, time: id.time)
                } else if let interval = offCPU.switchedIn(tid: id.tid, time: id.time) {
                    let node = interval.stack ?? resolver.labelNode(
                        interpretation.switchEvent == nil ? "[blocked: no switch stacks recorded]" : "[blocked: stack not sampled]",
                        under: weighting == .onAndOffCPU ? resolver.labelNode("[off-cpu]") : nil)
                    count(pid: interval.pid, tid: interval.tid, cpu: Int32(bitPattern: id.cpu), node: node, period: interval.nanoseconds)
                }
            case .mmap, .comm, .fork, .exit, .finishedRound, .other:
                break
            }
        }

        private mutating func processSample(_ sample: SampleRecord, event: Int) {
            let fromSwitchEvent = event == interpretation.switchEvent
            guard fromSwitchEvent || event == interpretation.mainEvent else {
                summary.otherEventSamples[event, default: 0] += 1  // another event's profile
                return
            }
            switch (weighting, fromSwitchEvent) {
            case (.onCPU, false):
                summary.sampleCount += 1
                count(pid: sample.pid, tid: sample.tid, cpu: Int32(bitPattern: sample.cpu),
                      node: resolver.node(for: sample, root: nil, model: model), period: sample.period)
            case (.onAndOffCPU, false):
                summary.sampleCount += 1
                let root = resolver.label("[on-cpu]")
                count(pid: sample.pid, tid: sample.tid, cpu: Int32(bitPattern: sample.cpu),
                      node: resolver.node(for: sample, root: root, model: model), period: sample.period)
            case (.offCPU, true), (.onAndOffCPU, true):
                let root = weighting == .onAndOffCPU ? resolver.label("[off-cpu]") : nil
                offCPU.sampledSwitchOut(tid: sample.tid, stack: resolver.node(for: sample, root: root, model: model, counted: weighting == .offCPU))
            case (.offCPU, false), (.onCPU, true):
                break  // not what this weighting measures
            }
        }

        /// The per-sample path: the sample's stack resolved as ``processSample(_:event:)`` resolves
        /// it, symbolized, and handed to the visitor.
        private mutating func handOn(_ sample: SampleRecord, event: Int) throws {
            guard var output = perSample else { return }
            perSample = nil  // one owner of the scratch arrays while they change
            defer { perSample = output }
            let node = resolver.node(for: sample, root: nil, model: model, counted: event == interpretation.mainEvent)
            output.frames.frames(ofNode: node, resolver: resolver, assembly: assembly, into: &output.scratch)
            let type = output.sampleTypes[event]
            try output.visit(ResolvedSample(
                pid: sample.pid, tid: sample.tid, comm: model.name(ofThread: sample.tid, pid: sample.pid),
                cpu: type.contains(.cpu) ? sample.cpu : nil, time: type.contains(.time) ? sample.time : nil,
                period: type.contains(.period) ? sample.period : nil, event: output.names[event], ip: sample.ip,
                hasCallchain: type.contains(.callchain), frames: output.scratch,
                tracepointFields: sample.raw.isEmpty ? nil : output.formats.describe(event: event, raw: sample.raw)))
        }

        private mutating func count(pid: Int32, tid: Int32, cpu: Int32, node: Int32, period: UInt64) {
            counts.add(thread: threads.id(pid: pid, tid: tid, cpu: cpu, model: model), node: node, period: period)
        }

        /// The symbolized profile, once every record is in.
        mutating func finish() -> Profile {
            resolver.unwinder.summarize(interpretation, into: &summary)
            if weighting != .onCPU {
                summary.event = weighting == .offCPU ? "off-cpu (ns blocked)" : "on-cpu + off-cpu (ns)"
                if weighting == .offCPU { summary.frequency = nil; summary.sampleCount = offCPU.intervals }
                if offCPU.droppedIntervals > 0 {
                    summary.notes.append(ReportNote(.timeWentBackwards, "\(offCPU.droppedIntervals) off-CPU intervals were dropped: their switch-in is timed before their switch-out (corrupted or unordered timestamps)"))
                }
                if offCPU.intervals == 0 {
                    summary.notes.append(ReportNote(.noSwitchRecords, "no context-switch records in this recording: record with perch sched record, or perch record --switches"))
                } else if interpretation.switchEvent == nil {
                    // The recording may have said why it could not sample them (privileges); else it
                    // was simply made without a context-switches event (perf record --switch-events).
                    let why = summary.notes.contains { $0.kind == .switchStacksUnavailable }
                        ? "switch-out stacks were not recorded (see the note above): off-CPU time is per thread, without stacks"
                        : "switch-out stacks were not recorded: this recording has switch records but no context-switches event sampled at each switch-out, so off-CPU time is per thread, without stacks; to get them: perch record --switches, or perch sched record"
                    summary.notes.append(ReportNote(.switchStacksNotRecorded, why))
                }
            }
            return assembly.profile(summary: summary, metric: weighting.metric, counts: counts, resolver: resolver,
                                    threads: threads.threads)
        }
    }
}
