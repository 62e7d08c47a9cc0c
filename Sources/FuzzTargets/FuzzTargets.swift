// Fuzz entry points: one function per target, each taking the fuzzer's bytes. The libFuzzer
// executable (Sources/PerchFuzz, built by Scripts/fuzz) and the regression replay test
// (Tests/FuzzRegressionTests) call the same functions, so a crash found by the fuzzer is
// replayed by CI through exactly the code that found it.
//
// Each entry point must not crash, trap or hang on any input; throwing is the right answer to
// garbage and is swallowed here.
import PerfABI
import PerfRecords
import ProfileImport
import ProfileModel
import Profiling
import Reporting
import Symbolication
import SystemIO
import Unwinding
#if canImport(Glibc)
import Glibc
#endif

public enum FuzzTarget: String, CaseIterable, Sendable {
    case decoder, perfdata, collapse, folded, elf

    /// Runs one input through the target.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .decoder: FuzzTargets.decoder(bytes)
        case .perfdata: FuzzTargets.perfData(bytes)
        case .collapse: FuzzTargets.collapse(bytes)
        case .folded: FuzzTargets.folded(bytes)
        case .elf: FuzzTargets.elf(bytes)
        }
    }
}

public enum FuzzTargets {
    // MARK: - Record decoder

    /// The attribute sets the decoder is fuzzed with: perf's `-g`, perf's `--call-graph dwarf`,
    /// Perch's two-event `sched record` (ids from a real recording), and one with every sample
    /// field the decoder reads.
    static let decoders: [RecordDecoder] = {
        let software = EventKind(type: EventType.software.rawValue, config: 0)  // cpu-clock
        let switches = EventKind(type: EventType.software.rawValue, config: 3)  // context-switches
        var perfG = EventAttributes(kind: software)
        perfG.sampleType = [.ip, .tid, .time, .callchain, .period]
        perfG.readFormat = [.id, .lost]
        perfG.flags = [.sampleIDAll, .mmap, .mmap2, .comm, .commExec, .task, .frequency]

        var perfDwarf = perfG
        perfDwarf.sampleType = [.ip, .tid, .time, .addr, .callchain, .period, .regsUser, .stackUser, .dataSource]
        perfDwarf.sampleRegsUser = 0xff0fff
        perfDwarf.sampleStackUser = 512
        perfDwarf.flags.insert(.excludeCallchainUser)

        var perch = EventAttributes(kind: software)
        perch.sampleType = [.ip, .tid, .time, .callchain, .cpu, .period, .regsUser, .stackUser, .identifier]
        perch.sampleRegsUser = 0xff0fff
        perch.sampleStackUser = 4096
        perch.flags = [.sampleIDAll, .mmap, .mmap2, .comm, .commExec, .task, .frequency, .contextSwitch, .buildID]
        var perchSwitches = perch
        perchSwitches.kind = switches
        perchSwitches.flags = [.sampleIDAll]

        var everything = EventAttributes(kind: software)
        everything.sampleType = [.identifier, .ip, .tid, .time, .addr, .id, .streamID, .cpu, .period, .read, .callchain,
                                 .raw, .branchStack, .regsUser, .stackUser, .weight, .dataSource, .transaction,
                                 .regsIntr, .physAddr, .cgroup, .dataPageSize, .codePageSize]
        everything.readFormat = [.group, .id, .totalTimeEnabled, .totalTimeRunning, .lost]
        everything.sampleRegsUser = 0xff0fff
        everything.sampleRegsIntr = 0xff
        everything.sampleStackUser = 256
        everything.branchSampleType = 1 << 16  // PERF_SAMPLE_BRANCH_HW_INDEX
        everything.flags = [.sampleIDAll, .mmap2, .comm, .buildID]

        return [
            RecordDecoder(events: [EventDescription(attributes: perfG, ids: [])]),
            RecordDecoder(events: [EventDescription(attributes: perfDwarf, ids: [])]),
            RecordDecoder(events: [EventDescription(attributes: perch, ids: [12424, 12426]),
                                   EventDescription(attributes: perchSwitches, ids: [12425, 12427])]),
            RecordDecoder(events: [EventDescription(attributes: everything, ids: [1])]),
        ]
    }()

    /// One raw record (header included) through every fixed decoder; every view the decoded
    /// record holds is read to the end, as the profile builder would.
    public static func decoder(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= 8 else { return }
        for decoder in decoders {
            _ = decoder.eventIndex(of: bytes)
            if let record = try? decoder.decode(bytes) { touch(record) }
            if RecordDecoder.type(of: bytes) == RecordType.sample.rawValue, let sample = try? decoder.decodeSample(bytes) {
                touch(sample)
            }
        }
    }

    static func touch(_ record: Record) {
        switch record {
        case .sample(let sample): touch(sample)
        case .mmap(let mmap):
            sink(mmap.filenameBytes)
            if let id = mmap.buildID { sink(id) }
        case .comm(let comm): sink(comm.nameBytes)
        default: break
        }
    }

    static func touch(_ sample: SampleRecord) {
        var acc = sample.ip &+ sample.time &+ sample.period
        for word in sample.callchain { acc &+= word }
        for word in sample.userRegisters { acc &+= word }
        blackHole(acc)
        sink(sample.raw)
        sink(sample.userStack)
    }

    static func sink(_ bytes: UnsafeRawBufferPointer) {
        var acc: UInt8 = 0
        for byte in bytes { acc &+= byte }
        blackHole(acc)
    }

    // MARK: - perf.data + profile

    /// The bytes as a perf.data file, read and built into a profile with the ELF symbolizer (the
    /// kernel's symbols are not read: they are not part of the input).
    public static func perfData(_ bytes: UnsafeRawBufferPointer) {
        withTemporaryFile(bytes, suffix: "data") { path in
            guard let file = try? PerfDataFile(path: path) else { return }
            let symbolizer = ELFSymbolizer(kallsymsPath: "/nonexistent/kallsyms")
            _ = try? ProfileBuilder(file: file, symbolizer: symbolizer).build()
        }
    }

    // MARK: - perch collapse

    /// The bytes as `perf script` output, folded as `perch collapse` does (plain, and with
    /// `--srcline`-style source lines).
    public static func collapse(_ bytes: UnsafeRawBufferPointer) {
        let input = bytes.bindMemory(to: UInt8.self)
        for options in [PerfScriptCollapser.Options(), PerfScriptCollapser.Options(sourceLines: true)] {
            let result = PerfScriptCollapser(options: options).collapse(bytes: input)
            blackHole(result.bytes.count)
        }
    }

    // MARK: - Folded stacks

    /// The bytes as folded stacks: the one parser, then the flame graph built from it (both ways).
    public static func folded(_ bytes: UnsafeRawBufferPointer) {
        let array = [UInt8](bytes)
        var total: UInt64 = 0
        try? FoldedStacks.forEachStack(in: array) { (frames, count) throws(Never) in
            for range in frames { total &+= UInt64(array[range].count) }
            total &+= count
        }
        blackHole(total)
        for reverse in [false, true] {
            if let graph = try? FlameGraph(foldedText: array, reverse: reverse) { blackHole(graph.total &+ UInt64(graph.maxDepth)) }
        }
    }

    // MARK: - ELF / DWARF

    /// The bytes as an ELF file: opened as an image, symbolized through its DWARF at addresses
    /// taken from its own sections, and unwound with its CFI from those addresses over a
    /// synthetic stack.
    public static func elf(_ bytes: UnsafeRawBufferPointer) {
        withTemporaryFile(bytes, suffix: "elf") { path in
            guard let image = try? ELFImage(path: path) else { return }
            var addresses: [UInt64] = []
            for section in image.sections.prefix(64) where section.isExecutable {
                addresses.append(section.address)
                addresses.append(section.address &+ section.size / 2)
                addresses.append(section.address &+ section.size &- 1)
            }
            for segment in image.loadSegments.prefix(16) {
                addresses.append(segment.virtualAddress)
                _ = image.fileOffset(forVirtualAddress: segment.virtualAddress &+ segment.fileSize / 2)
                _ = image.virtualAddress(forFileOffset: segment.fileOffset &+ 1)
            }
            _ = image.section(named: ".eh_frame")
            addresses = Array(addresses.prefix(24))

            let symbolizer = DWARFSymbolizer(debugDirectories: [], allowDebuginfod: false, kallsymsPath: "/nonexistent/kallsyms")
            for address in addresses {
                blackHole(symbolizer.symbolize(path: path, virtualAddress: address).count)
            }
            _ = symbolizer.symbolize(path: path, fileOffset: 0x1000)

            let space = FileAddressSpace(path: path, image: image)
            var unwinder = Unwinder(architecture: .x86_64)
            var frames: [UInt64] = []
            let stackPointer: UInt64 = 0x7fff_0000
            for address in addresses.prefix(8) {
                // A stack of return addresses into the file and pointers back into the stack.
                var stack: [UInt64] = []
                for (i, a) in addresses.enumerated() { stack.append(a &+ 1); stack.append(stackPointer &+ UInt64(16 * (i + 1))) }
                var registers = [UInt64](repeating: 0, count: 20)
                registers[8] = address  // ip
                registers[7] = stackPointer  // sp
                registers[6] = stackPointer &+ 16  // bp
                frames.removeAll(keepingCapacity: true)
                registers.withUnsafeBytes { registerBytes in
                    stack.withUnsafeBytes { stackBytes in
                        _ = unwinder.unwind(registers: WordArray(registerBytes), registerMask: UnwindArchitecture.x86_64.perfRegisterMask,
                                            stack: stackBytes, space: space, maxFrames: 64, into: &frames)
                    }
                }
            }
        }
    }

    /// The file's link-time addresses used as run-time ones (load bias 0), one module.
    final class FileAddressSpace: UnwindAddressSpace {
        let path: String
        let image: ELFImage
        init(path: String, image: ELFImage) {
            self.path = path
            self.image = image
        }
        func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? {
            image.fileOffset(forVirtualAddress: address).map { (0, $0) }
        }
        func path(ofModule module: Int32) -> String { path }
        func buildID(ofModule module: Int32) -> [UInt8]? { nil }
    }

    // MARK: - Helpers

    /// Writes the bytes to a file of this process's own (reused for every input; every call
    /// builds its own symbolizer, so nothing cached by path survives) and calls `body` with its path.
    static func withTemporaryFile(_ bytes: UnsafeRawBufferPointer, suffix: String, _ body: (String) -> Void) {
        let directory = FileManagerless.temporaryDirectory
        let path = "\(directory)/perch-fuzz-\(getpid()).\(suffix)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("fuzz harness: cannot create \(path): errno \(errno)") }
        do { try writeAll(fd, bytes) } catch { fatalError("fuzz harness: cannot write \(path): \(error.text)") }
        close(fd)
        defer { unlink(path) }
        body(path)
    }

    enum FileManagerless {
        /// `/dev/shm` when it exists (no disk writes), else `$TMPDIR` or `/tmp`.
        static let temporaryDirectory: String = {
            if access("/dev/shm", W_OK) == 0 { return "/dev/shm" }
            if let tmp = getenv("TMPDIR") { return String(cString: tmp) }
            return "/tmp"
        }()
    }
}

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
