#if canImport(Glibc)
import Glibc
#endif

/// At most one recording per profile kind at a time, shared by the requests that arrive while it
/// starts; each request waits for it as a subscriber, and when the last subscriber has gone the
/// recording is stopped.
///
/// A request joins the running recording of its kind when it asks for the same number of
/// seconds and that recording started at most ``joinWindow(seconds:)`` ago (its profile then
/// covers nearly the same time); any other request while one runs is refused with 429 and
/// `Retry-After`, so the events are never opened twice for one target.
actor SharedRecordings {
    fileprivate final class Slot: Sendable {
        let job: RecordingJob
        let started: Double
        let task: Task<Result<ServedProfile, ServeError>, Never>
        init(job: RecordingJob, started: Double, task: Task<Result<ServedProfile, ServeError>, Never>) {
            self.job = job
            self.started = started
            self.task = task
        }
    }

    /// A request's place in a recording.
    struct Ticket: Sendable {
        fileprivate let slot: Slot
        let subscriber: Int
        let kind: ProfileKind
        /// Whether it joined a recording another request had started.
        let joined: Bool
    }

    private let configuration: ServeConfiguration
    private var slots: [ProfileKind: Slot] = [:]
    private var subscribers: [ObjectIdentifier: Set<Int>] = [:]
    private var nextSubscriber = 0

    init(configuration: ServeConfiguration) { self.configuration = configuration }

    /// How long after its start a recording of `seconds` still takes new requests.
    static func joinWindow(seconds: Int) -> Double { max(1, Double(seconds) / 4) }

    /// A ticket for a recording of `kind` over `seconds`: the running one, or a new one.
    func join(_ kind: ProfileKind, seconds: Int) throws(ServeError) -> Ticket {
        let now = Self.monotonic()
        nextSubscriber += 1
        if let slot = slots[kind] {
            let elapsed = now - slot.started
            guard slot.job.seconds == seconds, elapsed <= Self.joinWindow(seconds: seconds) else {
                let left = max(1, Int((Double(slot.job.seconds) - elapsed).rounded(.up)))
                throw ServeError(.tooManyRequests, "a \(slot.job.seconds)-second \(kind.rawValue) recording of this target is under way (one at a time per target); it ends in \(left) s", retryAfter: left)
            }
            subscribers[ObjectIdentifier(slot), default: []].insert(nextSubscriber)
            return Ticket(slot: slot, subscriber: nextSubscriber, kind: kind, joined: true)
        }
        let job = RecordingJob(kind: kind, seconds: seconds, configuration: configuration)
        let task = Task { [weak self] () -> Result<ServedProfile, ServeError> in
            let result = await job.run()
            await self?.finished(kind, job: job)
            return result
        }
        let slot = Slot(job: job, started: now, task: task)
        slots[kind] = slot
        subscribers[ObjectIdentifier(slot)] = [nextSubscriber]
        return Ticket(slot: slot, subscriber: nextSubscriber, kind: kind, joined: false)
    }

    /// The recording's profile (waited for outside the actor).
    nonisolated func result(_ ticket: Ticket) async -> Result<ServedProfile, ServeError> {
        await ticket.slot.task.value
    }

    /// The request is done or its client went away: the recording is stopped when nobody waits.
    func leave(_ ticket: Ticket) {
        let key = ObjectIdentifier(ticket.slot)
        guard var waiting = subscribers[key], waiting.remove(ticket.subscriber) != nil else { return }
        subscribers[key] = waiting
        if waiting.isEmpty {
            subscribers[key] = nil
            if slots[ticket.kind] === ticket.slot {
                slots[ticket.kind] = nil
                ticket.slot.job.cancel()
            }
        }
    }

    /// Stops every recording under way and waits for each to end (its child and temporary files
    /// gone): the server is shutting down.
    func stopAll() async {
        let running = Array(slots.values)
        slots = [:]
        subscribers = [:]
        for slot in running { slot.job.cancel(ServeError(.unavailable, "perch serve is stopping: the recording was cut short")) }
        for slot in running { _ = await slot.task.value }
    }

    /// The number of recordings running now.
    var running: Int { slots.count }

    private func finished(_ kind: ProfileKind, job: RecordingJob) {
        if let slot = slots[kind], slot.job === job {
            slots[kind] = nil
            subscribers[ObjectIdentifier(slot)] = nil
        }
    }

    static func monotonic() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
