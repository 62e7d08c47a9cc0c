import PerfABI
import PerfEvents
#if canImport(Glibc)
import Glibc
#endif

/// Where a set of counters counts: one task (with the tasks it creates, when inherited), or one
/// CPU (every task on it).
public enum CountingPlace: Sendable, Hashable {
    case task(Int32)
    case cpu(Int32)

    var pid: Int32 { if case .task(let tid) = self { tid } else { -1 } }
    var cpu: Int32 { if case .cpu(let cpu) = self { cpu } else { -1 } }
}

/// Why counters could not be opened or read.
public enum CountingError: Error, Sendable, CustomStringConvertible {
    case openFailed(PerfEventError, remedy: String?)
    case readFailed(PerfEventError)
    case nothingOpened(String)

    public var description: String {
        switch self {
        case .openFailed(let error, let remedy): "\(error)" + (remedy.map { "; \($0)" } ?? "")
        case .readFailed(let error): "\(error)"
        case .nothingOpened(let reason): reason
        }
    }

    /// The errno behind the failure, when there is one.
    public var errno: Int32? {
        switch self {
        case .openFailed(let error, _), .readFailed(let error): error.errno
        case .nothingOpened: nil
        }
    }
}

/// The plan's events, opened on each place: every group with its leader, read with
/// `PERF_FORMAT_GROUP` when it has several members. An event the plan allowed but the kernel
/// refuses here (no such event, not permitted) is marked so and left out, as perf prints it.
public final class CounterSet {
    public let plan: CountingPlan
    public let places: [CountingPlace]
    /// Each event's availability after opening, in ``CountingPlan/events`` order.
    public private(set) var availability: [CountedEvent.Availability]

    private struct OpenGroup {
        var place: Int
        var leader: PerfEvent
        /// The flat event index of the leader and of each member, in the order opened.
        var eventIndices: [Int]
        var members: [PerfEvent]
        var grouped: Bool
    }

    private var openGroups: [OpenGroup] = []

    /// Opens every countable event of `plan` on every place. Places whose task has gone (ESRCH)
    /// are skipped; throws when nothing could be opened at all, or on an error that is not about
    /// one event (too many open files, ...).
    public init(plan: CountingPlan, places: [CountingPlace]) throws(CountingError) {
        self.plan = plan
        self.places = places
        availability = plan.events.map(\.availability)
        var firstIndex = 0
        var groupStarts: [Int] = []
        for group in plan.groups {
            groupStarts.append(firstIndex)
            firstIndex += group.count
        }
        for (placeIndex, place) in places.enumerated() {
            for (groupIndex, group) in plan.groups.enumerated() {
                var leader: PerfEvent?
                var indices: [Int] = []
                var members: [PerfEvent] = []
                for (offset, event) in group.enumerated() {
                    let flat = groupStarts[groupIndex] + offset
                    guard availability[flat].isCountable else { continue }
                    var attributes = event.attributes
                    if leader != nil { attributes.flags.subtract([.disabled, .enableOnExec]) }
                    do {
                        let opened = try PerfEvent(attributes: attributes, pid: place.pid, cpu: place.cpu, group: leader)
                        if leader == nil { leader = opened } else { members.append(opened) }
                        indices.append(flat)
                    } catch {
                        switch error.errno {
                        case ENOENT, EOPNOTSUPP, ENODEV, EINVAL:
                            availability[flat] = .unsupported("the kernel does not offer it here (\(error.reason))")
                        case EACCES, EPERM:
                            availability[flat] = .notPermitted("the kernel refuses it to this user (\(error.reason))")
                        case ESRCH:
                            break  // the task exited before its events were opened
                        case EMFILE, ENFILE:
                            throw .openFailed(error, remedy: "too many open files: raise the limit (ulimit -n) or count fewer threads")
                        default:
                            throw .openFailed(error, remedy: nil)
                        }
                    }
                }
                if let leader {
                    openGroups.append(OpenGroup(place: placeIndex, leader: leader, eventIndices: indices, members: members,
                                                grouped: leader.attributes.readFormat.contains(.group)))
                }
            }
        }
        // An event that failed on a later place must not be read from earlier ones either.
        openGroups = openGroups.map { group in
            var group = group
            let keep = group.eventIndices.map { availability[$0].isCountable }
            group.eventIndices = group.eventIndices.enumerated().map { keep[$0.offset] ? $0.element : -1 }
            return group
        }
        guard !openGroups.isEmpty || !availability.contains(.countable) else {
            throw .nothingOpened("no counter could be opened: every task had exited")
        }
    }

    /// Starts counting (events launched with a command start at its exec instead).
    public func enable() throws(CountingError) {
        for group in openGroups {
            do { try group.leader.enable() } catch { throw .openFailed(error, remedy: nil) }
        }
    }

    /// Stops counting; the counts stay readable.
    public func disable() {
        for group in openGroups { try? group.leader.disable() }
    }

    /// The current totals, per place (in ``places`` order), per event (in plan order); nil for
    /// an event not counted at that place.
    public func read() throws(CountingError) -> [[CounterReading?]] {
        var readings = [[CounterReading?]](repeating: [CounterReading?](repeating: nil, count: availability.count),
                                           count: places.count)
        for group in openGroups {
            if group.grouped {
                let count: PerfEvent.GroupCount
                do { count = try group.leader.readGroup(expectedMembers: group.eventIndices.count) } catch { throw .readFailed(error) }
                for (position, flat) in group.eventIndices.enumerated() where flat >= 0 && position < count.members.count {
                    readings[group.place][flat] = CounterReading(value: count.members[position].value,
                                                                 timeEnabled: count.timeEnabled, timeRunning: count.timeRunning)
                }
            } else if let flat = group.eventIndices.first, flat >= 0 {
                let count: PerfEvent.Count
                do { count = try group.leader.readCount() } catch { throw .readFailed(error) }
                readings[group.place][flat] = CounterReading(value: count.value, timeEnabled: count.timeEnabled,
                                                             timeRunning: count.timeRunning)
            }
        }
        return readings
    }

    /// The number of file descriptors open.
    public var openEventCount: Int { openGroups.reduce(0) { $0 + 1 + $1.members.count } }
}
