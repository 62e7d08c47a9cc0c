import Testing
@testable import Counting

@Suite struct ScalingTests {
    @Test func scaledByEnabledOverRunning() {
        let reading = CounterReading(value: 1000, timeEnabled: 4_000, timeRunning: 1_000)
        #expect(reading.scaled == 4000)
        #expect(reading.runningPercent == 25)
        #expect(reading.isScaled)
    }
}
