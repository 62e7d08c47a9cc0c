import PerfABI
import ProfileModel
import Symbolication
import Testing

@testable import Profiling

/// Records which DSOs the resolver asked to load ahead; it names nothing.
private final class PreparedDSOs: AddressSymbolizer {
    var prepared: [String] = []
    var kernelPrepared = 0
    func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame] { [] }
    func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)? { nil }
    func prepare(path: String) { prepared.append(path) }
    func prepareKernel() { kernelPrepared += 1 }
    var expected: [String: [UInt8]] = [:]
    func expect(buildID: [UInt8], forPath path: String) { expected[path] = buildID }
    var buildIDMismatches: [BuildIDMismatch] { [] }
}

/// A raw stack becomes a path of locations: kernel frames innermost, user frames resolved against
/// the address space at the sample's time, return addresses looked up one byte back.
struct StackResolverTests {
    static let reading = RecordingInterpretation(events: [
        EventDescription(attributes: { var a = EventAttributes(kind: .cpuClock); a.sampleType = [.ip, .tid, .callchain]; return a }(), ids: [1]),
    ])

    /// The locations of `chain` sampled in process 1 (kernel mode when the chain starts there).
    private func resolve(_ chain: [UInt64], _ resolver: inout StackResolver, _ model: ProcessModel, kernelMode: Bool = false) -> [Location] {
        chain.withUnsafeBytes { bytes in
            var sample = SampleRecord(misc: RecordMisc(rawValue: kernelMode ? 1 : 2))
            sample.pid = 1
            sample.tid = 1
            sample.callchain = WordArray(bytes)
            let node = resolver.node(for: sample, root: nil, model: model)
            return resolver.tree.path(to: node).map { resolver.locations.locations[Int($0)] }
        }
    }

    @Test func kernelAndUserFramesResolveOutermostFirst() {
        let model = ProcessModel()
        model.mmap(pid: 1, start: 0x40_0000, length: 0x1000, pageOffset: 0x2000, path: "/bin/app", buildID: [0xab, 0xcd])
        let symbolizer = PreparedDSOs()
        var resolver = StackResolver(interpretation: Self.reading, symbolizer: symbolizer)
        let kernel = CallchainContext.kernel.rawValue, user = CallchainContext.user.rawValue
        let path = resolve([kernel, 0xffff_ffff_8100_0010, 0xffff_ffff_8100_0200, user, 0x40_0100, 0x40_0800, 0x7000_0000],
                           &resolver, model, kernelMode: true)
        // Return addresses at pc - 1; the user pc below the kernel frames (no `syscall` before it:
        // /bin/app is not the mapped file) is the interrupted instruction, exact.
        let expected: [Location] = [
            .unmapped(address: 0x6fff_ffff),
            .user(dso: 0, fileOffset: 0x27ff),
            .user(dso: 0, fileOffset: 0x2100),
            .kernel(address: 0xffff_ffff_8100_01ff),
            .kernel(address: 0xffff_ffff_8100_0010),
        ]
        #expect(path == expected)
        #expect(symbolizer.prepared == ["/bin/app"] && symbolizer.kernelPrepared == 1)
        #expect(symbolizer.expected == ["/bin/app": [0xab, 0xcd]], "the recorded build id goes to the symbolizer")
    }

    @Test func aChainSeenBeforeReusesItsNodeUntilTheAddressSpaceChanges() {
        let model = ProcessModel()
        model.mmap(pid: 1, start: 0x40_0000, length: 0x1000, pageOffset: 0, path: "/bin/old", buildID: nil)
        var resolver = StackResolver(interpretation: Self.reading, symbolizer: PreparedDSOs())
        let user = CallchainContext.user.rawValue
        let first = resolve([user, 0x40_0010], &resolver, model)
        #expect(resolve([user, 0x40_0010], &resolver, model) == first)
        // The same addresses now belong to another file: the cached node must not be reused.
        model.mmap(pid: 1, start: 0x40_0000, length: 0x1000, pageOffset: 0, path: "/bin/new", buildID: nil)
        resolver.addressSpacesChanged()
        let moved: [Location] = [.user(dso: 1, fileOffset: 0x10)]
        #expect(resolve([user, 0x40_0010], &resolver, model) == moved)
    }

    @Test func labelsAreFramesOfTheirOwn() {
        var resolver = StackResolver(interpretation: Self.reading, symbolizer: PreparedDSOs())
        let top = resolver.labelNode("[off-cpu]")
        let blocked = resolver.labelNode("[blocked]", under: top)
        let labels: [Location] = resolver.tree.path(to: blocked).map { resolver.locations.locations[Int($0)] }
        #expect(labels == [.label(0), .label(1)])
        #expect(resolver.labels == ["[off-cpu]", "[blocked]"])
        #expect(resolver.labelNode("[off-cpu]") == top)
    }
}
