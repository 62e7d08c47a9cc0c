import PerfABI
import PerfEvents
import Testing
@testable import Counting
#if canImport(Glibc)
import Glibc
#endif

/// Software events never multiplex (the kernel always schedules a group of software events), and
/// this machine has no PMU. What does give time_running < time_enabled on the real kernel is a
/// per-task event bound to one CPU: it is enabled whenever its task runs, and running only while
/// the task is on that CPU. These tests move the thread between CPUs to get a known share.
@Suite(.serialized) struct KernelScalingTests {
    static var onlineCPUs: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// sched_setaffinity(2), which Glibc's module leaves out (it needs _GNU_SOURCE).
    static func setAffinity(_ set: inout cpu_set_t) {
        typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> Int32
        guard let symbol = dlsym(nil, "sched_setaffinity") else { return }
        let call = unsafeBitCast(symbol, to: SetAffinity.self)
        _ = withUnsafeBytes(of: &set) { call(0, $0.count, $0.baseAddress!) }
    }

    static func pin(toCPU cpu: Int) {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { $0[cpu / 8] |= UInt8(1 << (cpu % 8)) }
        setAffinity(&set)
    }

    static func unpin() {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { bytes in for cpu in 0..<min(onlineCPUs, bytes.count * 8) { bytes[cpu / 8] |= UInt8(1 << (cpu % 8)) } }
        setAffinity(&set)
    }

    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func spin(milliseconds: Double) {
        let end = threadCPUSeconds() + milliseconds / 1000
        var sink = 0
        while threadCPUSeconds() < end { for i in 0..<1000 { sink &+= i } }
        #expect(sink != 1)
    }

    @Test(.enabled(if: onlineCPUs >= 2)) func eventBoundToOneCPUIsScaledByItsRunningShare() throws {
        var attributes = EventAttributes(kind: .taskClock)
        attributes.flags = [.disabled]
        attributes.readFormat = [.totalTimeEnabled, .totalTimeRunning]
        Self.pin(toCPU: 1)
        defer { Self.unpin() }
        let event = try PerfEvent(attributes: attributes, pid: 0, cpu: 0)
        try event.enable()
        Self.spin(milliseconds: 40)   // enabled, not running: the thread is on CPU 1
        Self.pin(toCPU: 0)
        Self.spin(milliseconds: 40)   // running
        try event.disable()
        let count = try event.readCount()
        let reading = CounterReading(value: count.value, timeEnabled: count.timeEnabled, timeRunning: count.timeRunning)
        #expect(reading.isScaled, "\(count)")
        #expect(reading.runningPercent > 25 && reading.runningPercent < 75, "\(count)")
        // task-clock counts the running time; scaled to the enabled time it is the whole ~80 ms.
        let scaled = try #require(reading.scaled)
        #expect(abs(scaled - Double(count.timeEnabled)) < Double(count.timeEnabled) * 0.02, "\(count)")

        // Printed as perf prints a multiplexed count: scaled value, running share.
        let plan = try CountingPlanner.plan([[.init(source: .known(.taskClock))]], target: .threads([0]), probe: PlannerTests.probe(paranoid: -1))
        var accumulator = StatAccumulator(events: plan.events, availability: [.countable])
        accumulator.add([(nil, [reading])], availability: [.countable], elapsedNanoseconds: Double(count.timeEnabled))
        let line = try #require(accumulator.lines(showVariance: false).first)
        let percent = cFormat("%.2f", reading.runningPercent)
        #expect(StatFormat.human.format(line).hasSuffix("  (\(percent)%)\n"))
        let csv = StatFormat.csv(separator: ",").format(line).split(separator: ",")
        #expect(csv[0] == cFormat("%.2f", scaled / 1e6)[...] && csv[4] == percent[...], "\(csv)")
    }

    @Test func groupIsReadInOneGo() throws {
        let groups = try EventSpecification.parseList("{task-clock,page-faults,context-switches}")
        let plan = try CountingPlanner.plan(groups, target: .threads([0]), probe: PrivilegeProbe.run())
        let set = try CounterSet(plan: plan, places: [.task(0)])
        try set.enable()
        let pages = 256, size = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        let memory = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(memory, size) }
        for page in 0..<pages { memory.storeBytes(of: 1, toByteOffset: page * Int(sysconf(Int32(_SC_PAGESIZE))), as: UInt8.self) }
        Self.spin(milliseconds: 5)
        set.disable()
        let readings = try set.read()[0]
        let clock = try #require(readings[0]), faults = try #require(readings[1])
        // One read: the members share the leader's times.
        #expect(clock.timeEnabled == faults.timeEnabled && clock.timeRunning == faults.timeRunning)
        #expect(faults.value >= UInt64(pages), "\(faults)")
        #expect(clock.value >= 5_000_000, "\(clock)")
    }
}
