import Foundation
import PerfABI
import Symbolication
import Testing
import TestSupport
@testable import Unwinding

/// The unwinder against the CFI of a real binary (built here, without frame pointers) and
/// synthetic register sets and stack copies, so every stop reason can be provoked exactly.
@Suite struct UnwinderTests {
    /// A binary whose link-time addresses are used as run-time addresses (load bias 0).
    final class Space: UnwindAddressSpace {
        let path: String
        let image: ELFImage
        init(path: String) throws {
            self.path = path
            image = try ELFImage(path: path)
        }
        func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? {
            image.fileOffset(forVirtualAddress: address).map { (0, $0) }
        }
        func path(ofModule module: Int32) -> String { path }
        func buildID(ofModule module: Int32) -> [UInt8]? { nil }
    }

    /// The same binary, answering with whole segments, as a process model's mappings do.
    final class SegmentSpace: UnwindAddressSpace {
        let inner: Space
        private(set) var rangeLookups = 0
        init(path: String) throws { inner = try Space(path: path) }
        func module(at address: UInt64) -> (module: Int32, fileOffset: UInt64)? { inner.module(at: address) }
        func range(at address: UInt64) -> UnwindAddressRange? {
            rangeLookups += 1
            for segment in inner.image.loadSegments
            where address >= segment.virtualAddress && address - segment.virtualAddress < segment.fileSize {
                return UnwindAddressRange(start: segment.virtualAddress, end: segment.virtualAddress + segment.fileSize,
                                          module: 0, fileOffset: segment.fileOffset)
            }
            return nil
        }
        func path(ofModule module: Int32) -> String { inner.path }
        func buildID(ofModule module: Int32) -> [UInt8]? { nil }
    }

    /// Fixtures/known_weights.c without frame pointers; nil where clang cannot build it.
    static let fixture: String? = try? CCompiler.fixture("known_weights", flags: ["-O2", "-fomit-frame-pointer"])

    /// perf's x86_64 register words (mask 0xff0fff): ip at index 8, sp at 7.
    func registers(ip: UInt64, sp: UInt64) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: 20)
        words[8] = ip
        words[7] = sp
        return words
    }

    func unwind(_ unwinder: inout Unwinder, ip: UInt64, sp: UInt64, stack: [UInt64],
                space: some UnwindAddressSpace) -> ([UInt64], UnwindStop) {
        let words = registers(ip: ip, sp: sp)
        var frames: [UInt64] = []
        let stop = words.withUnsafeBytes { registerBytes in
            stack.withUnsafeBytes { stackBytes in
                unwinder.unwind(registers: WordArray(registerBytes), registerMask: UnwindArchitecture.x86_64.perfRegisterMask,
                                stack: stackBytes, space: space, into: &frames)
            }
        }
        return (frames, stop)
    }

    @Test(.enabled(if: fixture != nil && UnwindArchitecture.host == .x86_64, "needs clang on x86_64"))
    func leafEntryFindsItsCallerThenStopsAtTheEndOfTheCopy() throws {
        let path = try #require(Self.fixture)
        let space = try Space(path: path)
        let table = try nmSymbols(path).mapValues(\.address)
        let unit = try #require(table["unit"]), workA = try #require(table["work_a"])
        var unwinder = Unwinder(architecture: .x86_64)
        // At unit's first instruction the return address is at [sp]; the copy holds only it.
        let returnAddress = workA + 8
        let (frames, stop) = unwind(&unwinder, ip: unit, sp: 0x7fff_0000, stack: [returnAddress], space: space)
        #expect(frames == [unit, returnAddress])
        #expect(stop == .truncated)
        #expect(unwinder.statistics.rowMisses == 2)
        // The same pcs again: served from the per-(module, pc) cache.
        _ = unwind(&unwinder, ip: unit, sp: 0x7fff_0000, stack: [returnAddress], space: space)
        #expect(unwinder.statistics.rowMisses == 2)
        #expect(unwinder.statistics.rowLookups == 4)
    }

    @Test(.enabled(if: fixture != nil && UnwindArchitecture.host == .x86_64, "needs clang on x86_64"))
    func aCopyKeepsTheCachesAndCountsApart() throws {
        let path = try #require(Self.fixture)
        let space = try Space(path: path)
        let table = try nmSymbols(path).mapValues(\.address)
        let unit = try #require(table["unit"]), workA = try #require(table["work_a"])
        var unwinder = Unwinder(architecture: .x86_64)
        let first = unwind(&unwinder, ip: unit, sp: 0x7fff_0000, stack: [workA + 8], space: space)
        // A copy unwinds the same sample from the rows and module the original compiled and loaded.
        var copy = unwinder
        let second = unwind(&copy, ip: unit, sp: 0x7fff_0000, stack: [workA + 8], space: space)
        #expect(second.0 == first.0)
        #expect(second.1 == first.1)
        #expect(copy.statistics.rowMisses == 2)
        #expect(copy.statistics.rowLookups == 4)
        #expect(copy.statistics.modulesLoaded == 1)
        #expect(copy.statistics.unwinds == 2)
        // The original is a value: the copy's work does not show in it.
        #expect(unwinder.statistics.unwinds == 1)
        #expect(unwinder.statistics.rowLookups == 2)
    }

    @Test(.enabled(if: fixture != nil && UnwindArchitecture.host == .x86_64, "needs clang on x86_64"))
    func leafRepairInsertsTheSkippedCallerOnly() throws {
        let path = try #require(Self.fixture)
        let space = try Space(path: path)
        let table = try nmSymbols(path).mapValues(\.address)
        let unit = try #require(table["unit"]), workA = try #require(table["work_a"]), main = try #require(table["main"])
        var unwinder = Unwinder(architecture: .x86_64)
        let words = registers(ip: unit, sp: 0x7fff_0000)
        let stack: [UInt64] = [workA + 8]
        func repair(_ chainCaller: UInt64?) -> UInt64? {
            words.withUnsafeBytes { registerBytes in
                stack.withUnsafeBytes { stackBytes in
                    unwinder.leafCaller(registers: WordArray(registerBytes), registerMask: UnwindArchitecture.x86_64.perfRegisterMask,
                                        stack: stackBytes, space: space, chainPC: unit, chainCaller: chainCaller)
                }
            }
        }
        #expect(repair(main + 20) == workA + 8, "the chain skipped work_a")
        #expect(repair(nil) == workA + 8, "the chain stopped at the leaf")
        #expect(repair(workA + 8) == nil, "the chain already has the caller")
    }

    @Test(.enabled(if: fixture != nil && UnwindArchitecture.host == .x86_64, "needs clang on x86_64"))
    func codeOutsideAnyModuleStopsWithoutInventingFrames() throws {
        let path = try #require(Self.fixture)
        var unwinder = Unwinder(architecture: .x86_64)
        let (frames, stop) = unwind(&unwinder, ip: 0xdead_0000_0000, sp: 0x7fff_0000, stack: [1, 2, 3], space: try Space(path: path))
        #expect(frames == [0xdead_0000_0000])
        #expect(stop == .noUnwindInfo)
    }

    @Test(.enabled(if: fixture != nil && UnwindArchitecture.host == .x86_64, "needs clang on x86_64"))
    func aMappingsRangeIsAskedForOnceAndUnwindsAsPerAddressLookupsDo() throws {
        let path = try #require(Self.fixture)
        let table = try nmSymbols(path).mapValues(\.address)
        let unit = try #require(table["unit"]), workA = try #require(table["work_a"])
        let segments = try SegmentSpace(path: path)
        var perAddress = Unwinder(architecture: .x86_64), ranged = Unwinder(architecture: .x86_64)
        let expected = unwind(&perAddress, ip: unit, sp: 0x7fff_0000, stack: [workA + 8], space: try Space(path: path))
        let actual = unwind(&ranged, ip: unit, sp: 0x7fff_0000, stack: [workA + 8], space: segments)
        #expect(actual.0 == expected.0)
        #expect(actual.1 == expected.1)
        #expect(actual.0 == [unit, workA + 8])
        // unit and its caller work_a lie in one segment: one range for both frames.
        #expect(segments.rangeLookups == 1)
        #expect(ranged.statistics.rowLookups == 2)
    }

    @Test func stackMemoryReadsWholeWordsUpToTheEndOfTheCopyOnly() {
        let bytes: [UInt8] = Array(0..<20)
        bytes.withUnsafeBytes { raw in
            let memory = StackMemory(base: 0x1000, bytes: raw)
            #expect(memory.valueIfCopied(at: 0x1000) == 0x0706_0504_0302_0100)
            #expect(memory.valueIfCopied(at: 0x100c) == 0x1312_1110_0f0e_0d0c, "the last whole word")
            #expect(memory.valueIfCopied(at: 0x100d) == nil, "one byte past the end")
            #expect(memory.valueIfCopied(at: 0xfff) == nil, "below the stack pointer")
            #expect(memory.valueIfCopied(at: 0x1000 &- 0x2000) == nil, "far below: no wrapping into the copy")
            guard case .truncated = memory.read(0x100d) else { Issue.record("read says why"); return }
        }
        Array(bytes[0..<7]).withUnsafeBytes { raw in
            let memory = StackMemory(base: 0x1000, bytes: raw)
            #expect(memory.valueIfCopied(at: 0x1000) == nil, "a copy shorter than a word")
        }
        let empty = StackMemory(base: 0x1000, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(empty.valueIfCopied(at: 0x1000) == nil)
    }

    @Test func stackMemoryTellsTruncationFromGarbage() {
        let words: [UInt64] = [10, 20]
        words.withUnsafeBytes { bytes in
            let memory = StackMemory(base: 0x1000, bytes: bytes)
            guard case .value(20) = memory.read(0x1008) else { Issue.record("in range"); return }
            guard case .truncated = memory.read(0x1010) else { Issue.record("past the copy"); return }
            guard case .truncated = memory.read(0x100c) else { Issue.record("straddling the end"); return }
            guard case .invalid = memory.read(0xff8) else { Issue.record("below the stack pointer"); return }
        }
    }
}
