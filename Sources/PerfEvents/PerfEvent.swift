import PerfABI
import CPerfEvent
#if canImport(Glibc)
import Glibc
#endif

/// An open perf event: owns its file descriptor and closes it on deinit.
public final class PerfEvent {
    public let fd: Int32
    public let attributes: EventAttributes
    public let pid: Int32
    public let cpu: Int32

    /// Opens an event with `PERF_FLAG_FD_CLOEXEC`.
    /// - Parameters:
    ///   - pid: a process or thread id, 0 for the caller, -1 for every task (needs `cpu >= 0`).
    ///   - cpu: a CPU number, or -1 for any CPU.
    public init(attributes: EventAttributes, pid: Int32, cpu: Int32, group: PerfEvent? = nil) throws(PerfEventError) {
        let bytes = attributes.encoded()
        let flagFDCloexec: UInt = 1 << 3
        let fd = bytes.withUnsafeBytes { raw in
            perch_perf_event_open(raw.baseAddress, pid, cpu, group?.fd ?? -1, flagFDCloexec)
        }
        guard fd >= 0 else {
            throw PerfEventError(.open, errno: Glibc.errno, attributes: attributes, pid: pid, cpu: cpu)
        }
        self.fd = fd
        self.attributes = attributes
        self.pid = pid
        self.cpu = cpu
    }

    deinit { close(fd) }

    public func enable() throws(PerfEventError) { try check(perch_event_enable(fd)) }
    public func disable() throws(PerfEventError) { try check(perch_event_disable(fd)) }
    public func reset() throws(PerfEventError) { try check(perch_event_reset(fd)) }

    /// Changes the sample period (or frequency, for frequency-based events).
    public func setPeriod(_ period: UInt64) throws(PerfEventError) { try check(perch_event_set_period(fd, period)) }

    /// Sends this event's records into `ring`'s buffer (`PERF_EVENT_IOC_SET_OUTPUT`).
    public func redirectOutput(to ring: PerfEvent) throws(PerfEventError) { try check(perch_event_set_output(fd, ring.fd)) }

    /// The kernel's id for this event, as found in `PERF_SAMPLE_ID`/`IDENTIFIER`.
    public func id() throws(PerfEventError) -> UInt64 {
        var id: UInt64 = 0
        try check(perch_event_id(fd, &id))
        return id
    }

    /// A counter value read with `PERF_FORMAT_TOTAL_TIME_ENABLED | RUNNING` (open the event
    /// with that `readFormat`).
    public struct Count: Sendable, Equatable {
        public var value: UInt64
        public var timeEnabled: UInt64
        public var timeRunning: UInt64

        /// The value scaled for multiplexing, as perf stat does.
        public var scaled: Double {
            timeRunning == 0 ? 0 : Double(value) * Double(timeEnabled) / Double(timeRunning)
        }
    }

    public func readCount() throws(PerfEventError) -> Count {
        var words = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let n = withUnsafeMutableBytes(of: &words) { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n >= 8 else { throw PerfEventError(.read, errno: n < 0 ? Glibc.errno : EIO, attributes: attributes) }
        let format = attributes.readFormat
        var index = 1
        var count = Count(value: words.0, timeEnabled: 0, timeRunning: 0)
        let rest = [words.1, words.2, words.3]
        if format.contains(.totalTimeEnabled) { count.timeEnabled = rest[index - 1]; index += 1 }
        if format.contains(.totalTimeRunning) { count.timeRunning = rest[index - 1] }
        return count
    }

    /// A group leader's read with `PERF_FORMAT_GROUP`: the group's times and each member's value,
    /// in the order the members were opened (the leader first).
    public struct GroupCount: Sendable, Equatable {
        public var timeEnabled: UInt64
        public var timeRunning: UInt64
        /// Each member's value and kernel id (0 when the read format has no `.id`).
        public var members: [(value: UInt64, id: UInt64)]

        public init(timeEnabled: UInt64, timeRunning: UInt64, members: [(value: UInt64, id: UInt64)]) {
            self.timeEnabled = timeEnabled
            self.timeRunning = timeRunning
            self.members = members
        }

        public static func == (lhs: GroupCount, rhs: GroupCount) -> Bool {
            lhs.timeEnabled == rhs.timeEnabled && lhs.timeRunning == rhs.timeRunning
                && lhs.members.elementsEqual(rhs.members) { $0.value == $1.value && $0.id == $1.id }
        }
    }

    /// The most members a group read accepts; far above the kernel's practical group sizes.
    public static let maximumGroupMembers = 512

    /// Reads a group leader opened with `readFormat` containing `.group` (and optionally
    /// `.totalTimeEnabled`, `.totalTimeRunning`, `.id`): `{ nr, [enabled], [running], {value, [id]}[nr] }`.
    /// The member count the kernel reports is checked against the bytes it returned.
    public func readGroup(expectedMembers: Int) throws(PerfEventError) -> GroupCount {
        let format = attributes.readFormat
        precondition(format.contains(.group), "readGroup needs PERF_FORMAT_GROUP")
        let members = min(max(expectedMembers, 1), Self.maximumGroupMembers)
        let perMember = format.contains(.id) ? 2 : 1
        var headerWords = 1
        if format.contains(.totalTimeEnabled) { headerWords += 1 }
        if format.contains(.totalTimeRunning) { headerWords += 1 }
        var words = [UInt64](repeating: 0, count: headerWords + members * perMember)
        let n = words.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n >= 8 else { throw PerfEventError(.read, errno: n < 0 ? Glibc.errno : EIO, attributes: attributes) }
        let count = Int(clamping: words[0])
        guard count >= 1, count <= members, n >= (headerWords + count * perMember) * 8 else {
            throw PerfEventError(.read, errno: EIO, attributes: attributes)
        }
        var index = 1
        var result = GroupCount(timeEnabled: 0, timeRunning: 0, members: [])
        if format.contains(.totalTimeEnabled) { result.timeEnabled = words[index]; index += 1 }
        if format.contains(.totalTimeRunning) { result.timeRunning = words[index]; index += 1 }
        for _ in 0..<count {
            let value = words[index]
            let id = perMember == 2 ? words[index + 1] : 0
            result.members.append((value, id))
            index += perMember
        }
        return result
    }

    private func check(_ result: Int32) throws(PerfEventError) {
        if result != 0 { throw PerfEventError(.ioctl, errno: Glibc.errno, attributes: attributes, pid: pid, cpu: cpu) }
    }
}
