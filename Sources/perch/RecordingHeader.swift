import PerfABI
import PerfRecords
#if canImport(Glibc)
import Glibc
#endif

/// `perch report --header` / `--header-only`: what a recording says about itself, in the
/// `# ========` block perf report prints: where and when it was captured (the file's features:
/// hostname, OS release, the recorder's version, CPUs, command line), each event's attributes,
/// and the samples it holds and the time they span (counted from the data itself).
/// Lines for what the file does not record are left out.
struct RecordingHeader {
    let file: PerfDataFile

    /// The header block, ending with a lone `#` line.
    func render() throws -> String {
        let features = file.features
        var lines: [String] = []
        var info = stat()
        if stat(file.path, &info) == 0 { lines.append("captured on    : \(Self.localTime(info.st_mtim.tv_sec))") }
        lines.append("data size      : \(file.dataBytes.count)")
        if let hostname = features.hostname { lines.append("hostname : \(hostname)") }
        if let release = features.osRelease { lines.append("os release : \(release)") }
        if let version = features.version { lines.append("perf version : \(version)") }
        if let arch = features.arch { lines.append("arch : \(arch)") }
        if let online = features.cpusOnline { lines.append("nrcpus online : \(online)") }
        if let available = features.cpusAvailable { lines.append("nrcpus avail : \(available)") }
        if let commandLine = features.commandLine {
            lines.append("cmdline : \(commandLine.joined(separator: " ").split(whereSeparator: \.isNewline).joined(separator: " "))")
        }
        let counts = try sampleCounts()
        for (index, event) in file.events.enumerated() {
            let attributes = event.attributes
            var fields = ["name = \(event.name)"]
            if let frequency = attributes.frequency { fields.append("sample_freq = \(frequency)") }
            else if let period = attributes.period { fields.append("sample_period = \(period)") }
            fields.append("sample_type = \(Self.sampleTypeNames(attributes.sampleType))")
            if attributes.flags.contains(.excludeUser) { fields.append("exclude_user = 1") }
            if attributes.flags.contains(.excludeKernel) { fields.append("exclude_kernel = 1") }
            if attributes.sampleStackUser > 0 { fields.append("sample_stack_user = \(attributes.sampleStackUser)") }
            fields.append("samples = \(counts.perEvent[index])")
            lines.append("event : " + fields.joined(separator: ", "))
        }
        lines.append("sample count : \(counts.perEvent.reduce(0, +))")
        if let first = counts.firstTime, let last = counts.lastTime, last >= first {
            let microseconds = (last - first) / 1000
            let fraction = String(microseconds % 1000)
            lines.append("sample duration : \(microseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) ms")
        }
        if file.isCutShort { lines.append("note : the recording never finished this file (read up to where it stopped)") }
        return "# ========\n" + lines.map { "# " + $0 + "\n" }.joined() + "# ========\n#\n"
    }

    /// Samples per event, and the first and last sample times, from the data section.
    private func sampleCounts() throws -> (perEvent: [Int], firstTime: UInt64?, lastTime: UInt64?) {
        let decoder = RecordDecoder(events: file.events)
        var perEvent = [Int](repeating: 0, count: file.events.count)
        var first: UInt64?
        var last: UInt64?
        let timed = file.events.map { $0.attributes.sampleType.contains(.time) }
        try file.forEachRecord { bytes, _ in
            guard RecordDecoder.type(of: bytes) == RecordType.sample.rawValue else { return }
            let index = decoder.eventIndex(of: bytes)
            guard index < perEvent.count else { return }
            perEvent[index] += 1
            guard timed[index], let sample = try? decoder.decodeSample(bytes), sample.time > 0 else { return }
            first = min(first ?? sample.time, sample.time)
            last = max(last ?? sample.time, sample.time)
        }
        return (perEvent, first, last)
    }

    /// perf's names for the sample_type bits, `IP|TID|TIME|...`.
    private static func sampleTypeNames(_ type: SampleType) -> String {
        let names: [(SampleType, String)] = [
            (.ip, "IP"), (.tid, "TID"), (.time, "TIME"), (.cpu, "CPU"), (.period, "PERIOD"),
            (.callchain, "CALLCHAIN"), (.regsUser, "REGS_USER"), (.stackUser, "STACK_USER"), (.identifier, "IDENTIFIER"),
        ]
        let shown = names.filter { type.contains($0.0) }.map(\.1)
        return shown.isEmpty ? "\(type.rawValue)" : shown.joined(separator: "|")
    }

    /// `Mon Nov 30 15:03:48 2026`, in local time, as perf prints the capture time.
    private static func localTime(_ seconds: time_t) -> String {
        var time = seconds
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return "\(seconds)" }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
