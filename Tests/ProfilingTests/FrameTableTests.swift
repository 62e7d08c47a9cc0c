import Testing

@testable import Profiling

/// The stitcher's frame table answers as a Dictionary keyed by (stack pointer, pc) would, through
/// growth, overwrites and colliding keys.
@Test func frameTableHoldsWhatADictionaryHolds() {
    var table = FrameTable()
    var reference: [[UInt64]: Int32] = [:]
    var state: UInt64 = 0x1234_5678
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 20
    }
    #expect(table.node(stackPointer: 0, pc: 0) == nil)
    for step in 0..<20_000 {
        // Few distinct stack pointers and pcs: many overwrites; a stack pointer of 0 and
        // keys that differ in one word only.
        let stackPointer = 0x7ffd_0000 + (next() % 300) * 16
        let pc = step % 7 == 0 ? 0 : 0x40_1000 + next() % 90
        let node = Int32(truncatingIfNeeded: next())
        guard node != Int32.min else { continue }
        table.set(node, stackPointer: stackPointer, pc: pc)
        reference[[stackPointer, pc]] = node
        #expect(table.count == reference.count)
    }
    for (key, node) in reference {
        #expect(table.node(stackPointer: key[0], pc: key[1]) == node)
    }
    var misses = 0
    for _ in 0..<5_000 {
        let stackPointer = 0x7ffd_0000 + (next() % 600) * 16, pc = 0x40_1000 + next() % 180
        if reference[[stackPointer, pc]] == nil {
            #expect(table.node(stackPointer: stackPointer, pc: pc) == nil)
            misses += 1
        }
    }
    #expect(misses > 1_000)
    #expect(table.count > 8_000)
}
