import PerchCounters
#if canImport(Glibc)
import Glibc
#endif

/// This thread's CPU time in seconds.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Spins until this thread has used `seconds` of CPU time.
func spin(seconds: Double) {
    let end = threadCPUSeconds() + seconds
    var sink = 0
    while threadCPUSeconds() < end { for i in 0..<1000 { sink &+= i } }
    if sink == 42 { print("") }
}

func show(_ title: String, _ counters: Counters) {
    print(title)
    for count in counters.counts {
        let value: String
        switch count.availability {
        case .counted:
            let number = count.value ?? 0
            value = count.event == .taskClock ? "\(Double(Int(number / 10_000)) / 100) msec" : "\(Int(number.rounded()))"
        case .notCounted: value = "<not counted>"
        case .unsupported(let reason): value = "<not supported> (\(reason))"
        case .notPermitted(let reason): value = "<not permitted> (\(reason))"
        }
        let scaled = count.runningFraction < 1 ? " (running \(Int(count.runningFraction * 100))% of the time, scaled)" : ""
        print("  \(count.name.padding(20)) \(value)\(scaled)")
    }
    for note in counters.notes { print("  note: \(note)") }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

let events: [Counters.Event] = [.taskClock, .contextSwitches, .pageFaults, .instructions]
do {
    show("100 sleeps of 1 ms:", try Counters.measure(events) { for _ in 0..<100 { usleep(1000) } })
    show("a 50 ms spin:", try Counters.measure(events) { spin(seconds: 0.05) })
} catch {
    print("counting is not possible here: \(error)")
    exit(1)
}
