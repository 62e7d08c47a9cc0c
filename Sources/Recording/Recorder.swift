import CPerfEvent
import PerfEvents
import PerfRecords
#if canImport(Glibc)
import Glibc
#endif

/// Runs one recording: opens the events (one ring per CPU, every other event on that CPU
/// redirected into it), drains the rings into a perf.data file until the target exits, the
/// user presses Ctrl-C or the duration elapses, then writes the file's features.
public final class Recorder {
    public let options: RecordOptions
    public let settings: KernelSettings
    private var attributes: EventAttributes
    /// The context-switches sampling event, opened beside each main event when planned.
    private var switchAttributes: EventAttributes?
    private var switchEvents: [PerfEvent] = []
    private var notes: [String] = []
    private var events: [PerfEvent] = []
    private var rings: [RingBuffer] = []
    /// The ring owner of each CPU, by position in `settings.onlineCPUs`.
    private var ringOwners: [PerfEvent?] = []
    private var child: Int32 = -1
    private var childControl: (Int32, Int32) = (-1, -1)
    private var pidfds: [Int32] = []
    private var attachedPIDs: [Int32] = []

    private var samples: UInt64 = 0
    private var lost: UInt64 = 0
    private var throttles: UInt64 = 0
    private var unthrottles: UInt64 = 0
    private var mmapBuildIDs: [String: [UInt8]] = [:]
    private var seenPaths: Set<String> = []

    public init(options: RecordOptions, settings: KernelSettings = .read()) {
        self.options = options
        self.settings = settings
        attributes = EventAttributes(kind: options.event)
    }

    /// Records until the target is done. Throws ``RecordingError`` when nothing could be recorded.
    public func run() throws -> RecordingResult {
        raiseDescriptorLimit()
        try planAttributes()
        perch_install_stop_handler()
        defer { perch_reset_stop_handler() }

        let tasks = try prepareTargets()
        defer { for fd in pidfds { close(fd) } }
        do {
            try openEvents(for: tasks)
        } catch {
            cancelChild()
            throw error
        }

        var descriptions = [EventDescription(attributes: attributes, ids: events.compactMap { try? $0.id() })]
        if let switchAttributes, !switchEvents.isEmpty {
            descriptions.append(EventDescription(attributes: switchAttributes, ids: switchEvents.compactMap { try? $0.id() }))
        }
        let writer: PerfDataWriter
        do {
            writer = try PerfDataWriter(path: options.outputPath, events: descriptions)
        } catch {
            cancelChild()
            throw RecordingError.output("\(error)")
        }
        let decoder = RecordDecoder(events: descriptions)
        synthesize(into: writer, eventID: descriptions[0].ids.first ?? 0)

        let start = monotonicSeconds()
        if case .launch = options.target {} else {
            for event in events + switchEvents { try? event.enable() }
        }
        if child > 0 {
            let failure = perch_release_child(childControl.0, childControl.1)
            if failure != 0 {
                _ = reap(child)
                unlink(options.outputPath)
                throw RecordingError.commandNotFound(commandName, errno: failure)
            }
        }
        let ending = eventLoop(writer: writer, decoder: decoder, start: start)
        for event in events + switchEvents { try? event.disable() }
        drainAll(writer: writer, decoder: decoder)
        clearStatusLine()

        var features = PerfDataFeatures()
        features.hostname = hostname()
        features.osRelease = settings.release
        features.version = "perch 0.1"
        features.arch = machineArchitecture()
        features.cpusAvailable = UInt32(sysconf(Int32(_SC_NPROCESSORS_CONF)))
        features.cpusOnline = UInt32(settings.onlineCPUs.count)
        features.commandLine = options.commandLine
        features.buildIDs = mmapBuildIDs.sorted { $0.key < $1.key }.map { BuildIDEntry(path: $0.key, buildID: $0.value) }
        do {
            try writer.finish(features: features)
        } catch {
            throw RecordingError.output("\(error)")
        }
        return RecordingResult(ending: ending, outputPath: options.outputPath, samples: samples, lostRecords: lost,
                               throttleEvents: throttles, unthrottleEvents: unthrottles, bytesWritten: writer.bytesWritten,
                               notes: notes, eventCount: events.count, ringCount: rings.count,
                               dataPagesPerRing: rings.first?.dataPageCount ?? 0, elapsedSeconds: monotonicSeconds() - start)
    }

    private var commandName: String {
        switch options.target {
        case .launch(let argv): argv.first ?? ""
        case .systemWide(_, let command): command?.first ?? ""
        default: ""
        }
    }

    // MARK: - Planning

    private func planAttributes() throws {
        let plan: RecordingPlan
        do {
            plan = try RecordingPlanner.plan(options, probe: PrivilegeProbe.run(settings: settings))
        } catch {
            throw RecordingError.refused(error)
        }
        attributes = plan.attributes
        switchAttributes = plan.switchAttributes
        dataPages = plan.dataPages
        for degradation in plan.degradations { note(degradation.description) }
    }

    private func note(_ text: String, replacingPrefix prefix: String? = nil) {
        if let prefix { notes.removeAll { $0.hasPrefix(prefix) } }
        if !notes.contains(text) { notes.append(text) }
    }

    // MARK: - Targets

    /// The (pid, tid) pairs to open events on: the paused child, or the attached threads.
    private func prepareTargets() throws -> [Int32] {
        switch options.target {
        case .launch(let argv):
            try spawnPaused(argv)
            return [child]
        case .systemWide(_, let command):
            if let command, !command.isEmpty { try spawnPaused(command) }
            return []
        case .attach(let pids):
            var tids: [Int32] = []
            for pid in pids {
                guard let threads = TaskDiscovery.threads(of: pid), !threads.isEmpty else { throw RecordingError.noSuchProcess(pid) }
                tids.append(contentsOf: threads)
                let fd = perch_pidfd_open(pid)
                if fd >= 0 { pidfds.append(fd) }
            }
            attachedPIDs = pids
            return tids
        case .threads(let tids):
            for tid in tids {
                guard let pid = TaskDiscovery.processID(ofThread: tid) else { throw RecordingError.noSuchProcess(tid) }
                if !attachedPIDs.contains(pid) { attachedPIDs.append(pid) }
                let fd = perch_pidfd_open(tid)
                if fd >= 0 { pidfds.append(fd) }
            }
            return tids
        }
    }

    /// Forks the command, paused before exec until ``perch_release_child``.
    private func spawnPaused(_ argv: [String]) throws {
        guard !argv.isEmpty else { throw RecordingError.output("no command to record") }
        var cArguments = argv.map { strdup($0) }
        cArguments.append(nil)
        defer { for argument in cArguments { free(argument) } }
        var control: Int32 = -1, report: Int32 = -1
        let pid = perch_spawn_paused(argv[0], cArguments, &control, &report)
        guard pid > 0 else { throw RecordingError.spawnFailed(errno: errno) }
        child = pid
        childControl = (control, report)
        let fd = perch_pidfd_open(pid)
        if fd >= 0 { pidfds.append(fd) }
    }

    private func cancelChild() {
        guard child > 0 else { return }
        close(childControl.0)  // the paused child reads EOF and exits 127
        close(childControl.1)
        _ = reap(child)
        child = -1
    }

    // MARK: - Events

    private func openEvents(for tids: [Int32]) throws {
        ringOwners = Array(repeating: nil, count: settings.onlineCPUs.count)
        if case .systemWide(let cpus, _) = options.target {
            for (slot, cpu) in settings.onlineCPUs.enumerated() where cpus?.contains(cpu) ?? true {
                guard let event = try openAdapting(pid: -1, cpu: cpu) else { continue }
                rings.append(try mapRing(for: event))
                ringOwners[slot] = event
                events.append(event)
                openSwitchEvent(pid: -1, cpu: cpu, owner: event)
            }
            guard !events.isEmpty else { throw RecordingError.output("none of the requested CPUs is online (online: \(settings.onlineCPUs))") }
            return
        }
        var opened: Set<Int32> = []
        var pending = tids
        // Threads may start while we attach: rescan until no new thread appears.
        for round in 0..<4 {
            for tid in pending where !opened.contains(tid) {
                for (slot, cpu) in settings.onlineCPUs.enumerated() {
                    guard let event = try openAdapting(pid: tid, cpu: cpu) else { break }  // the thread exited
                    if let owner = ringOwners[slot] {
                        do {
                            try event.redirectOutput(to: owner)
                        } catch {
                            throw RecordingError.eventOpenFailed(error, remedy: nil)
                        }
                    } else {
                        // The kernel redirects only into a ring that is already mapped.
                        rings.append(try mapRing(for: event))
                        ringOwners[slot] = event
                    }
                    events.append(event)
                    if let owner = ringOwners[slot] { openSwitchEvent(pid: tid, cpu: cpu, owner: owner) }
                }
                opened.insert(tid)
            }
            guard case .attach(let pids) = options.target, round < 3 else { break }
            let current = pids.flatMap { TaskDiscovery.threads(of: $0) ?? [] }
            pending = current.filter { !opened.contains($0) }
            if pending.isEmpty { break }
        }
        guard !events.isEmpty else {
            throw RecordingError.output("every target thread exited before events could be attached")
        }
    }

    /// Opens the context-switches sampling event next to a main event, into the same ring.
    /// A failure drops switch-out stacks (switch records stay) with a note.
    private func openSwitchEvent(pid: Int32, cpu: Int32, owner: PerfEvent) {
        guard let switchAttributes else { return }
        do {
            let event = try PerfEvent(attributes: switchAttributes, pid: pid, cpu: cpu)
            try event.redirectOutput(to: owner)
            switchEvents.append(event)
        } catch {
            if error.errno == ESRCH { return }
            self.switchAttributes = nil
            switchEvents.removeAll()
            note("context-switch stacks left out: \(error); switch records and off-CPU time are kept")
        }
    }

    /// Opens one event, adapting the shared attributes to what the kernel allows. Returns nil
    /// when the target thread no longer exists.
    private func openAdapting(pid: Int32, cpu: Int32) throws -> PerfEvent? {
        while true {
            do {
                return try PerfEvent(attributes: attributes, pid: pid, cpu: cpu)
            } catch {
                switch error.errno {
                case ESRCH:
                    return nil
                case let code where [ENOENT, EOPNOTSUPP, ENODEV].contains(code) && attributes.kind.isHardware:
                    let requested = attributes.kind
                    attributes = attributes.with(kind: .cpuClock)
                    note("hardware event '\(requested)' is not supported here (no hardware PMU, as in most VMs): sampling cpu-clock instead")
                case EINVAL where attributes.flags.contains(.buildID):
                    attributes.flags.remove(.buildID)  // kernels before 5.12
                case let code where (code == EACCES || code == EPERM) && !attributes.flags.contains(.excludeKernel):
                    attributes.flags.formUnion([.excludeKernel, .excludeHypervisor])
                    note("kernel frames left out: the kernel refused kernel sampling (kernel.perf_event_paranoid=\(settings.paranoid.map(String.init) ?? "unreadable")); to include them: sysctl kernel.perf_event_paranoid=1, or setcap cap_perfmon+ep $(which perch)")
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

    // MARK: - Rings

    private var dataPages = 128

    /// Maps a ring for `owner`, halving the size while the locked-memory budget refuses it.
    private func mapRing(for owner: PerfEvent) throws -> RingBuffer {
        while true {
            do {
                return try RingBuffer(event: owner, dataPageCount: dataPages)
            } catch {
                guard error.errno == EPERM || error.errno == ENOMEM, dataPages > 1 else {
                    throw RecordingError.ringBufferFailed(error, remedy: "the locked-memory budget is used up (kernel.perf_event_mlock_kb=\(settings.mlockKiB.map(String.init) ?? "?") per CPU, shared by all of this user's recordings); stop other recordings or raise it: sysctl kernel.perf_event_mlock_kb=\(2 * (settings.mlockKiB ?? 516))")
                }
                dataPages /= 2
                note("ring buffers shrunk to \(dataPages) data pages per CPU (asked for \(options.dataPages)) to fit the locked-memory budget (kernel.perf_event_mlock_kb=\(settings.mlockKiB.map(String.init) ?? "?"), shared by all of this user's recordings); more records may be lost at high rates", replacingPrefix: "ring buffers shrunk")
            }
        }
    }

    // MARK: - Draining

    private func eventLoop(writer: PerfDataWriter, decoder: RecordDecoder, start: Double) -> RecordingResult.Ending {
        // The drain thread competes with the threads it profiles; where permitted (CAP_SYS_NICE),
        // run it a little ahead of them so the rings do not overflow. Only this thread: the
        // profiled command keeps its own priority.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(perch_gettid()), -5)
        var fds = rings.map { pollfd(fd: $0.event.fd, events: Int16(POLLIN), revents: 0) }
        let firstPidfd = fds.count
        fds += pidfds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let showStatus = options.statusLine && isatty(2) != 0
        var lastStatus = start
        var stopRequestedAt: Double?
        var exitedPidfds = Set<Int>()
        while true {
            let result = poll(&fds, nfds_t(fds.count), 100)
            drainAll(writer: writer, decoder: decoder)
            let now = monotonicSeconds()
            if showStatus && now - lastStatus >= 0.5 {
                lastStatus = now
                writeStatus(elapsed: now - start)
            }
            if result > 0 {
                for index in firstPidfd..<fds.count where fds[index].revents != 0 {
                    exitedPidfds.insert(index)
                    fds[index].fd = -1  // stop polling it
                }
            }
            if child > 0 {
                if let status = reapIfExited(child) { child = -1; return .targetExited(status: status) }
            } else if !attachedPIDs.isEmpty, !pidfds.isEmpty, exitedPidfds.count == pidfds.count {
                return .attachedExited
            }
            if perch_stop_requested() > 0 {
                if child <= 0 { return .interrupted }
                // The launched command got the same Ctrl-C; give it a moment, then end it.
                if stopRequestedAt == nil { stopRequestedAt = now }
                if let asked = stopRequestedAt, now - asked > 2 {
                    kill(child, SIGKILL)
                } else if let asked = stopRequestedAt, now - asked > 0.5 {
                    kill(child, SIGTERM)
                }
            }
            if let duration = options.duration, now - start >= duration {
                if child > 0 {
                    kill(child, SIGTERM)
                    if let status = reap(child) { child = -1; return .targetExited(status: status) }
                }
                return .durationElapsed
            }
        }
    }

    private func drainAll(writer: PerfDataWriter, decoder: RecordDecoder) {
        var wrote = false
        for ring in rings {
            ring.drain { record in
                writer.append(record)
                wrote = true
                count(record, decoder: decoder)
            }
        }
        if wrote { writer.appendFinishedRound() }
    }

    private func count(_ record: UnsafeRawBufferPointer, decoder: RecordDecoder) {
        switch RecordDecoder.type(of: record) {
        case RecordType.sample.rawValue:
            samples += 1
        case RecordType.lost.rawValue:
            if case .lost(_, let count, _)? = try? decoder.decode(record) { lost += count }
        case RecordType.throttle.rawValue:
            throttles += 1
        case RecordType.unthrottle.rawValue:
            unthrottles += 1
        case RecordType.mmap2.rawValue:
            if case .mmap(let mmap)? = try? decoder.decode(record), let buildID = mmap.buildID, !buildID.isEmpty {
                let path = mmap.filename
                if mmapBuildIDs[path] == nil { mmapBuildIDs[path] = Array(buildID) }
            }
        default:
            break
        }
    }

    private func synthesize(into writer: PerfDataWriter, eventID: UInt64) {
        let synthesizer = RecordSynthesizer(attributes: attributes, eventID: eventID)
        if !attributes.flags.contains(.excludeKernel), let text = kernelTextAddress() {
            synthesizer.kernelMap(textStart: text) { writer.append($0) }
        }
        var pids = attachedPIDs
        if case .systemWide = options.target { pids = TaskDiscovery.allProcesses() }
        var unreadable = 0
        for pid in pids {
            synthesizer.comms(pid: pid) { writer.append($0) }
            if !synthesizer.mmaps(pid: pid, into: { writer.append($0) }) { unreadable += 1 }
        }
        if unreadable > 0 {
            note("\(unreadable) processes' memory maps were unreadable at start (other users' processes, or exited): their samples before any exec show as [unknown] symbols")
        }
    }

    // MARK: - Status

    private func writeStatus(elapsed: Double) {
        let line = "\r[perch] \(formatSeconds(elapsed)) s  \(samples) samples  \(lost) lost \u{1b}[K"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    private func clearStatusLine() {
        guard options.statusLine && isatty(2) != 0 else { return }
        _ = "\r\u{1b}[K".withCString { write(2, $0, strlen($0)) }
    }
}

// MARK: - Helpers

extension EventAttributes {
    func with(kind: EventKind) -> EventAttributes {
        var copy = self
        copy.kind = kind
        return copy
    }
}

/// Waits for a child; returns a shell-style status (128+N when killed by signal N).
func reap(_ pid: Int32) -> Int32? {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        if errno != EINTR { return nil }
    }
    return shellStatus(status)
}

func reapIfExited(_ pid: Int32) -> Int32? {
    var status: Int32 = 0
    let result = waitpid(pid, &status, WNOHANG)
    guard result == pid else { return nil }
    return shellStatus(status)
}

func shellStatus(_ status: Int32) -> Int32 {
    let signal = status & 0x7f
    if signal == 0 { return (status >> 8) & 0xff }
    return 128 + signal
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func formatSeconds(_ seconds: Double) -> String {
    let tenths = Int((seconds * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

func hostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func machineArchitecture() -> String {
    var name = utsname()
    uname(&name)
    return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

/// The address of `_text` (or `_stext`) from /proc/kallsyms, nil when hidden.
func kernelTextAddress() -> UInt64? {
    guard let file = fopen("/proc/kallsyms", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 512)
    var fallback: UInt64?
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = text.split(separator: " ")
        guard fields.count >= 3, let address = UInt64(fields[0], radix: 16), address != 0 else { continue }
        let name = fields[2].trimmingCharacters(in: "\n")
        if name == "_text" { return address }
        if name == "_stext" { fallback = address }
    }
    return fallback
}

/// Lets Perch open one event per (thread, CPU) when attaching to many threads.
func raiseDescriptorLimit() {
    var limit = rlimit()
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    setrlimit(resource, &limit)
}
