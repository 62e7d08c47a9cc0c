import PerfABI
import PerfEvents
#if canImport(Glibc)
import Glibc
import ProfileModel
#endif

/// The events of one recording: one per (task, CPU), the first on each CPU owning that CPU's
/// ring and the others redirected into it (`PERF_EVENT_IOC_SET_OUTPUT`), and the
/// context-switches event beside each when planned. Adapts the attributes to what the kernel
/// accepts while opening, and shrinks the rings to the locked-memory budget.
final class EventGroup {
    /// Every requested event as finally opened (attributes adapted), the main one first.
    private(set) var planned: [PlannedEvent]
    /// The main event's attributes, as finally opened.
    var attributes: EventAttributes { planned[0].attributes }
    /// The context-switches sampling event, opened beside each main event when planned.
    private(set) var switchAttributes: EventAttributes?
    /// The open events of each planned event, by position in `planned`.
    private(set) var opened: [[PerfEvent]]
    /// The main event's open events (one per task and CPU); each CPU's first owns its ring.
    var events: [PerfEvent] { opened[0] }
    private(set) var switchEvents: [PerfEvent] = []
    private(set) var rings: [RingBuffer] = []
    /// The ring owner of each CPU, by position in `settings.onlineCPUs`.
    private var ringOwners: [PerfEvent?] = []
    private(set) var dataPages: Int
    private let options: RecordOptions
    private let settings: KernelSettings

    init(plan: RecordingPlan, options: RecordOptions, settings: KernelSettings) {
        planned = plan.events
        opened = Array(repeating: [], count: plan.events.count)
        switchAttributes = plan.switchAttributes
        dataPages = plan.dataPages
        self.options = options
        self.settings = settings
    }

    /// The events as perf.data describes them: each requested event with the ids of its open
    /// events (an event that opened nowhere is left out), then the switch event if open.
    var descriptions: [EventDescription] {
        var descriptions: [EventDescription] = []
        for (index, event) in planned.enumerated() where index == 0 || !opened[index].isEmpty {
            descriptions.append(EventDescription(attributes: event.attributes, ids: opened[index].compactMap { try? $0.id() },
                                                 name: event.name))
        }
        if let switchAttributes, !switchEvents.isEmpty {
            descriptions.append(EventDescription(attributes: switchAttributes, ids: switchEvents.compactMap { try? $0.id() }))
        }
        return descriptions
    }

    /// The tracepoint formats of the events that opened, by event name, as the file stores them.
    var tracepointFormats: [(event: String, format: String)] {
        planned.enumerated().compactMap { index, event in
            guard let tracepoint = event.tracepoint, !opened[index].isEmpty else { return nil }
            return (event.name, tracepoint.text)
        }
    }

    private var allEvents: [PerfEvent] { opened.flatMap { $0 } + switchEvents }

    func enable() {
        for event in allEvents { try? event.enable() }
    }

    func disable() {
        for event in allEvents { try? event.disable() }
    }

    /// Opens the events on every online CPU: CPU-wide for a system-wide target, else on each of
    /// `tids` (and, when attaching, on threads that start meanwhile).
    func open(tasks tids: [Int32], notes: inout RecordingNotes) throws {
        ringOwners = Array(repeating: nil, count: settings.onlineCPUs.count)
        if case .systemWide(let cpus, _) = options.target {
            for (slot, cpu) in settings.onlineCPUs.enumerated() where cpus?.contains(cpu) ?? true {
                guard let event = try openAdapting(0, pid: -1, cpu: cpu, notes: &notes) else { continue }
                rings.append(try mapRing(for: event, notes: &notes))
                ringOwners[slot] = event
                opened[0].append(event)
                try openOthers(pid: -1, cpu: cpu, owner: event, notes: &notes)
                openSwitchEvent(pid: -1, cpu: cpu, owner: event, notes: &notes)
            }
            guard !events.isEmpty else { throw RecordingError.output("none of the requested CPUs is online (online: \(settings.onlineCPUs))") }
            return
        }
        var done: Set<Int32> = []
        var pending = tids
        // Threads may start while we attach: rescan until no new thread appears.
        for round in 0..<4 {
            for tid in pending where !done.contains(tid) {
                for (slot, cpu) in settings.onlineCPUs.enumerated() {
                    guard let event = try openAdapting(0, pid: tid, cpu: cpu, notes: &notes) else { break }  // the thread exited
                    if let owner = ringOwners[slot] {
                        do {
                            try event.redirectOutput(to: owner)
                        } catch {
                            throw RecordingError.eventOpenFailed(error, remedy: nil)
                        }
                    } else {
                        // The kernel redirects only into a ring that is already mapped.
                        rings.append(try mapRing(for: event, notes: &notes))
                        ringOwners[slot] = event
                    }
                    opened[0].append(event)
                    if let owner = ringOwners[slot] {
                        try openOthers(pid: tid, cpu: cpu, owner: owner, notes: &notes)
                        openSwitchEvent(pid: tid, cpu: cpu, owner: owner, notes: &notes)
                    }
                }
                done.insert(tid)
            }
            guard case .attach(let pids) = options.target, round < 3 else { break }
            let current = pids.flatMap { TaskDiscovery.threads(of: $0) ?? [] }
            pending = current.filter { !done.contains($0) }
            if pending.isEmpty { break }
        }
        guard !events.isEmpty else {
            throw RecordingError.output("every target thread exited before events could be attached")
        }
        // CPU-wide companions (wake-ups of the recorded tasks raised anywhere), into each ring.
        for index in planned.indices.dropFirst() where planned[index].cpuWide {
            for (slot, cpu) in settings.onlineCPUs.enumerated() {
                guard let owner = ringOwners[slot], let event = try openAdapting(index, pid: -1, cpu: cpu, notes: &notes) else { continue }
                do {
                    try event.redirectOutput(to: owner)
                } catch {
                    throw RecordingError.eventOpenFailed(error, remedy: nil)
                }
                opened[index].append(event)
            }
        }
    }

    /// Opens the events after the main one on (pid, cpu), into the CPU's ring.
    private func openOthers(pid: Int32, cpu: Int32, owner: PerfEvent, notes: inout RecordingNotes) throws {
        for index in planned.indices.dropFirst() where !planned[index].cpuWide {
            guard let event = try openAdapting(index, pid: pid, cpu: cpu, notes: &notes) else { return }
            do {
                try event.redirectOutput(to: owner)
            } catch {
                throw RecordingError.eventOpenFailed(error, remedy: nil)
            }
            opened[index].append(event)
        }
    }

    /// Opens the context-switches sampling event next to a main event, into the same ring.
    /// A failure drops switch-out stacks (switch records stay) with a note.
    private func openSwitchEvent(pid: Int32, cpu: Int32, owner: PerfEvent, notes: inout RecordingNotes) {
        guard let switchAttributes else { return }
        do {
            let event = try PerfEvent(attributes: switchAttributes, pid: pid, cpu: cpu)
            try event.redirectOutput(to: owner)
            switchEvents.append(event)
        } catch {
            if error.errno == ESRCH { return }
            self.switchAttributes = nil
            switchEvents.removeAll()
            notes.add(.switchStacksUnavailable, "context-switch stacks left out: \(error); switch records and off-CPU time are kept")
        }
    }

    /// Opens planned event `index`, adapting its attributes to what the kernel allows. Returns
    /// nil when the target thread no longer exists.
    private func openAdapting(_ index: Int, pid: Int32, cpu: Int32, notes: inout RecordingNotes) throws -> PerfEvent? {
        while true {
            let event = planned[index]
            let attributes = event.attributes
            do {
                return try PerfEvent(attributes: attributes, pid: pid, cpu: cpu)
            } catch {
                switch error.errno {
                case ESRCH:
                    return nil
                case let code where [ENOENT, EOPNOTSUPP, ENODEV].contains(code) && attributes.kind.isHardware:
                    let requested = event.name
                    planned[index].attributes = attributes.with(kind: .cpuClock)
                    planned[index].attributes.preciseIP = 0
                    let suffix = event.name.firstIndex(of: ":").map { String(event.name[$0...]) } ?? ""
                    planned[index].name = "cpu-clock" + suffix
                    notes.add(.hardwareEventUnavailable, "hardware event '\(requested)' is not supported here (no hardware PMU, as in most VMs): sampling \(planned[index].name) instead")
                case let code where (code == EINVAL || code == EOPNOTSUPP) && event.lowersPrecision && attributes.preciseIP > 0:
                    // :P — the highest precise_ip the PMU takes, found by trying 3, 2, 1, 0.
                    planned[index].attributes.preciseIP -= 1
                case EINVAL where attributes.flags.contains(.buildID):
                    planned[index].attributes.flags.remove(.buildID)  // kernels before 5.12
                case let code where (code == EACCES || code == EPERM) && !attributes.flags.contains(.excludeKernel)
                    && !event.levelsChosen && event.tracepoint == nil:
                    planned[index].attributes.flags.formUnion([.excludeKernel, .excludeHypervisor])
                    notes.add(.kernelFramesDropped, "kernel frames left out: the kernel refused kernel sampling (kernel.perf_event_paranoid=\(settings.paranoid.map(String.init) ?? "unreadable")); to include them: sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)")
                case let code where (code == EINVAL || code == EOPNOTSUPP) && attributes.preciseIP > 0:
                    throw RecordingError.eventOpenFailed(error, remedy: "the PMU does not support precise_ip=\(attributes.preciseIP) for \(event.name); ask for fewer p's, or :P for the highest it supports")
                case EACCES, EPERM:
                    throw RecordingError.eventOpenFailed(error, remedy: permissionRemedy(pid: pid))
                case EMFILE:
                    throw RecordingError.eventOpenFailed(error, remedy: "too many open files: raise it with ulimit -n (Perch opens one event per thread and CPU)")
                default:
                    throw RecordingError.eventOpenFailed(error, remedy: nil)
                }
            }
        }
    }

    private func permissionRemedy(pid: Int32) -> String {
        if case .launch = options.target {
            return "perf_event_open is blocked (kernel.perf_event_paranoid=\(settings.paranoid.map(String.init) ?? "unreadable"), or a seccomp filter in a container); allow it with sysctl kernel.perf_event_paranoid=2 or run the container with --cap-add PERFMON"
        }
        return "you may not profile process \(pid): it belongs to another user or is not ptrace-able by you; run as its owner, or grant CAP_PERFMON (setcap cap_perfmon+ep $(which perch)), or sysctl kernel.perf_event_paranoid=0"
    }

    /// Maps a ring for `owner`, halving the size while the locked-memory budget refuses it.
    private func mapRing(for owner: PerfEvent, notes: inout RecordingNotes) throws -> RingBuffer {
        while true {
            do {
                return try RingBuffer(event: owner, dataPageCount: dataPages)
            } catch {
                guard error.errno == EPERM || error.errno == ENOMEM, dataPages > 1 else {
                    throw RecordingError.ringBufferFailed(error, remedy: "the locked-memory budget is used up (kernel.perf_event_mlock_kb=\(settings.mlockKiB.map(String.init) ?? "?") per CPU, shared by all of this user's recordings); stop other recordings or raise it: sysctl kernel.perf_event_mlock_kb=\(2 * (settings.mlockKiB ?? 516))")
                }
                dataPages /= 2
                notes.add(.ringBufferShrunk, "ring buffers shrunk to \(dataPages) data pages per CPU (asked for \(options.dataPages)) to fit the locked-memory budget (kernel.perf_event_mlock_kb=\(settings.mlockKiB.map(String.init) ?? "?"), shared by all of this user's recordings); more records may be lost at high rates", supersedes: true)
            }
        }
    }
}

extension EventAttributes {
    func with(kind: EventKind) -> EventAttributes {
        var copy = self
        copy.kind = kind
        return copy
    }
}
