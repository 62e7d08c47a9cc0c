import PerfABI
import CPerfEvent
import SystemIO
#if canImport(Glibc)
import Glibc
#endif

/// rr-style desched notification: while armed, the calling thread receives `signal` when the
/// kernel deschedules it — so a thread about to block in a system call learns that it blocked.
///
/// The signal interrupts the blocking system call, which then fails with `EINTR` (install the
/// handler without `SA_RESTART`, e.g. with `perch_install_interrupting_handler`). Arm just
/// before the blocking region and disarm right after it.
///
/// Two mechanisms, probed before either is promised:
/// - ``Mechanism/contextSwitchCounter``: the `context-switches` software event with
///   `sample_period=1`; each switch-out overflows it. Needs kernel.perf_event_paranoid <= 1 or
///   CAP_PERFMON (with `exclude_kernel=1`, as paranoid 2 forces, it opens but never counts).
/// - ``Mechanism/switchRecordWakeup``: since Linux 6.10, a dummy event with
///   `context_switch=1`, `watermark=1`, `wakeup_watermark=1` and a one-page ring: the switch
///   record's wakeup raises the signal. Works at paranoid 2 for one's own threads.
public final class DeschedNotifier {
    public enum Mechanism: String, Sendable, CaseIterable {
        case contextSwitchCounter = "context-switches counter"
        case switchRecordWakeup = "switch-record wakeup"
    }

    /// Why no mechanism could be armed.
    public struct Unavailable: Error, CustomStringConvertible, Sendable {
        public var reasons: [String]
        public var description: String {
            "desched notification unavailable: " + reasons.joined(separator: "; ")
                + "; to allow it: sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep on the program, or Linux >= 6.10"
        }
    }

    public let mechanism: Mechanism
    public let signal: Int32
    private let event: PerfEvent
    private let ring: RingBuffer?

    /// Sets up notification for the calling thread, using `preferred` if it works here,
    /// else the first mechanism that passes its self-test.
    public init(signal: Int32, preferred: Mechanism? = nil) throws(Unavailable) {
        let order = preferred.map { [$0] + Mechanism.allCases.filter { $0 != preferred } } ?? Mechanism.allCases
        var reasons: [String] = []
        let tid = perch_gettid()
        for mechanism in order {
            do {
                let (event, ring) = try Self.open(mechanism, tid: tid)
                guard Self.selfTest(mechanism, event: event, ring: ring) else {
                    reasons.append("\(mechanism.rawValue): opens but never fires (exclude_kernel at kernel.perf_event_paranoid=\(readFirstLine("/proc/sys/kernel/perf_event_paranoid") ?? "?"))")
                    continue
                }
                guard perch_fd_signal_thread(event.fd, tid, signal) == 0 else {
                    reasons.append("\(mechanism.rawValue): fcntl F_SETOWN_EX/F_SETSIG failed: \(Errno.current.text)")
                    continue
                }
                self.mechanism = mechanism
                self.signal = signal
                self.event = event
                self.ring = ring
                return
            } catch {
                reasons.append("\(mechanism.rawValue): \(error)")
            }
        }
        throw Unavailable(reasons: reasons)
    }

    /// Starts notification (`PERF_EVENT_IOC_ENABLE`): the next deschedule raises the signal.
    public func arm() throws(PerfEventError) {
        acknowledge()
        try event.enable()
    }

    /// Stops notification (`PERF_EVENT_IOC_DISABLE`).
    public func disarm() throws(PerfEventError) {
        try event.disable()
        acknowledge()
    }

    /// Frees the switch records that raised signals, so later switches can still wake.
    public func acknowledge() {
        ring?.drain { _ in }
    }

    private static func open(_ mechanism: Mechanism, tid: Int32) throws(PerfEventError) -> (PerfEvent, RingBuffer?) {
        switch mechanism {
        case .contextSwitchCounter:
            var attributes = EventAttributes(kind: .contextSwitches)
            attributes.samplePeriodOrFrequency = 1
            attributes.wakeup = 1
            attributes.flags = [.disabled]
            return (try PerfEvent(attributes: attributes, pid: tid, cpu: -1), nil)
        case .switchRecordWakeup:
            var attributes = EventAttributes(kind: .dummy)
            attributes.flags = [.disabled, .contextSwitch, .watermark, .excludeKernel, .excludeHypervisor]
            attributes.wakeup = 1
            let event = try PerfEvent(attributes: attributes, pid: tid, cpu: -1)
            return (event, try RingBuffer(event: event, dataPageCount: 1))
        }
    }

    /// Trusts nothing: enables the event around a few sleeps (no signal owner is set yet) and
    /// checks that it counted or wrote switch records.
    private static func selfTest(_ mechanism: Mechanism, event: PerfEvent, ring: RingBuffer?) -> Bool {
        guard (try? event.enable()) != nil else { return false }
        for _ in 0..<3 { usleep(500) }
        try? event.disable()
        switch mechanism {
        case .contextSwitchCounter:
            return ((try? event.readCount())?.value ?? 0) > 0
        case .switchRecordWakeup:
            var switches = 0
            ring?.drain { _ in switches += 1 }
            return switches > 0
        }
    }
}
