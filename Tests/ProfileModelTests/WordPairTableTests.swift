import Testing

@testable import ProfileModel

/// `set` answers as a Dictionary keyed by the pair would, through growth, overwrites and
/// colliding keys (the stack stitcher keeps tree nodes by frame with it).
@Test func wordPairTableSetHoldsWhatADictionaryHolds() {
    var table = WordPairTable(capacity: 0)
    var reference: [[UInt64]: Int32] = [:]
    var state: UInt64 = 0x1234_5678
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 20
    }
    #expect(table.find(0, 0) == nil)
    for step in 0..<20_000 {
        // Few distinct stack pointers and pcs: many overwrites; a stack pointer of 0 and
        // keys that differ in one word only. Values are tree node ids (0 is the root).
        let stackPointer = 0x7ffd_0000 + (next() % 300) * 16
        let pc = step % 7 == 0 ? 0 : 0x40_1000 + next() % 90
        let node = Int32(truncatingIfNeeded: next() & 0x7fff_ffff)
        table.set(stackPointer, pc, value: node)
        reference[[stackPointer, pc]] = node
        #expect(table.count == reference.count)
    }
    for (key, node) in reference {
        #expect(table.find(key[0], key[1]) == node)
    }
    var misses = 0
    for _ in 0..<5_000 {
        let stackPointer = 0x7ffd_0000 + (next() % 600) * 16, pc = 0x40_1000 + next() % 180
        if reference[[stackPointer, pc]] == nil {
            #expect(table.find(stackPointer, pc) == nil)
            misses += 1
        }
    }
    #expect(misses > 1_000)
    #expect(table.count > 8_000)
}
