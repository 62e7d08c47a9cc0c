import PerfABI
import PerfEvents
@testable import Recording
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The record queue between the ring reader and the writer: its reserve is mapped before the
/// recording starts, and the chunks it hands out stay mapped for reuse.
@Suite struct RecordQueueTests {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Pages of `count` bytes at `base` the kernel has mapped now (mincore).
    static func residentPages(_ base: UnsafeMutableRawPointer, _ count: Int) -> Int {
        var vector = [UInt8](repeating: 0, count: (count + pageSize - 1) / pageSize)
        guard mincore(base, count, &vector) == 0 else { return -1 }
        return vector.reduce(0) { $0 + Int($1 & 1) }
    }

    /// A reserve of 2.5 chunks is 3 chunks, every page mapped before the reader writes a byte;
    /// without a reserve the first chunk is allocated on demand.
    @Test func theReserveIsMappedBeforeTheReaderTouchesIt() throws {
        let chunk = RecordQueue.chunkBytes
        let queue = RecordQueue(capacityBytes: 16 * chunk, reserveBytes: 5 * chunk / 2)
        defer { queue.close() }
        #expect(queue.allocatedBytes == 3 * chunk)
        let space = try #require(queue.space(for: 64))
        #expect(Self.residentPages(space, chunk) == chunk / Self.pageSize)

        let empty = RecordQueue(capacityBytes: 16 * chunk)
        defer { empty.close() }
        #expect(empty.allocatedBytes == 0)
        _ = try #require(empty.space(for: 64))
        #expect(empty.allocatedBytes == chunk)

        // A reserve is never more than the capacity.
        let capped = RecordQueue(capacityBytes: 4 * chunk, reserveBytes: 100 * chunk)
        defer { capped.close() }
        #expect(capped.allocatedBytes == 4 * chunk)
    }

    /// Chunks the writer gives back are reused, not freed: after a burst of 12 chunks, the next
    /// burst allocates nothing, and the records come out whole and in order.
    @Test func chunksAreKeptForReuseAndRecordsComeOutInOrder() throws {
        let chunk = RecordQueue.chunkBytes
        let queue = RecordQueue(capacityBytes: 16 * chunk)
        defer { queue.close() }
        let recordBytes = 64 << 10
        var next: UInt64 = 0
        for burst in 0..<2 {
            for _ in 0..<(12 * chunk / recordBytes) {
                let space = try #require(queue.space(for: recordBytes))
                space.storeBytes(of: next, as: UInt64.self)
                queue.commit(recordBytes)
                next += 1
            }
            queue.endRound()
            var seen: [UInt64] = []
            while let taken = queue.take() {
                for offset in stride(from: 0, to: taken.used, by: recordBytes) {
                    seen.append(taken.records.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                }
                queue.recycle(taken)
            }
            let first = UInt64(burst * 12 * chunk / recordBytes)
            #expect(seen == Array(first..<next))
            #expect(queue.allocatedBytes == 12 * chunk, "burst \(burst)")
        }
    }

    /// The plan's reserve: 0.1 s of samples at the requested rate on every ring, with stack
    /// copies counted at most 8 KiB (the reader cuts them to the stack in use), up to the
    /// queue's capacity; nothing without stack copies or with a period instead of a frequency.
    @Test func thePlanReservesATenthOfASecondOfStackSamples() throws {
        let probe = RecordingPlannerTests.probe(paranoid: 1, capabilities: [.ipcLock])
        let fast = try RecordingPlanner.plan(RecordingPlannerTests.launch { $0.callGraph = .dwarf(stackSize: 8192); $0.frequency = 10_000 }, probe: probe)
        let perSample = RecordingPlanner.queuedSampleBytes(fast.attributes)
        #expect(perSample == RecordingPlanner.reservedSampleBytes(fast.attributes))
        #expect(fast.queueReserveBytes == 10_000 * perSample * 2 / 10)

        let wide = try RecordingPlanner.plan(RecordingPlannerTests.launch { $0.callGraph = .dwarf(stackSize: 65528); $0.frequency = 1_000 }, probe: probe)
        #expect(RecordingPlanner.queuedSampleBytes(wide.attributes) == RecordingPlanner.reservedSampleBytes(wide.attributes) - 65528 + 8192)

        let capped = try RecordingPlanner.plan(RecordingPlannerTests.launch { $0.callGraph = .dwarf(stackSize: 8192); $0.frequency = 100_000 }, probe: probe)
        #expect(capped.queueReserveBytes == RecordQueue.defaultCapacityBytes)

        // Frame pointers copy a little stack too (the leaf's caller): a small reserve.
        let framePointers = try RecordingPlanner.plan(RecordingPlannerTests.launch { $0.callGraph = .framePointer; $0.frequency = 50_000 }, probe: probe)
        #expect(framePointers.attributes.sampleType.contains(.stackUser))
        #expect(framePointers.queueReserveBytes == 50_000 * RecordingPlanner.queuedSampleBytes(framePointers.attributes) * 2 / 10)
        #expect(framePointers.queueReserveBytes < fast.queueReserveBytes)
        let noStacks = try RecordingPlanner.plan(RecordingPlannerTests.launch { $0.callGraph = CallGraphMode.none; $0.frequency = 50_000 }, probe: probe)
        #expect(noStacks.queueReserveBytes == 0)
        let period = try RecordingPlanner.plan(RecordingPlannerTests.launch { $0.callGraph = .dwarf(stackSize: 8192); $0.period = 10_000 }, probe: probe)
        #expect(period.queueReserveBytes == 0)
    }
}
