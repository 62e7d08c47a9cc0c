import PerfABI
import PerfEvents
import PerfRecords
#if canImport(Glibc)
import Glibc
import ProfileModel
import SystemIO
#endif

/// What existed before the recording started, read from /proc and handed on first (to the data
/// section, and to a live consumer): the kernel's text mapping (when kernel code is sampled and kallsyms shows it), and
/// COMM and MMAP2 records for the attached processes, or for every process when system-wide.
struct ProcSnapshot {
    let target: RecordingTarget
    let attachedPIDs: [Int32]

    /// Writes the records; notes how many processes' maps could not be read.
    func write(into emit: (UnsafeRawBufferPointer) -> Void, attributes: EventAttributes, eventID: UInt64, notes: inout RecordingNotes) {
        let synthesizer = RecordSynthesizer(attributes: attributes, eventID: eventID)
        if !attributes.flags.contains(.excludeKernel), let text = kernelTextAddress() {
            synthesizer.kernelMap(textStart: text) { emit($0) }
        }
        var pids = attachedPIDs
        if case .systemWide = target { pids = TaskDiscovery.allProcesses() }
        var unreadable = 0
        for pid in pids {
            synthesizer.comms(pid: pid) { emit($0) }
            if !synthesizer.mmaps(pid: pid, into: { emit($0) }) { unreadable += 1 }
        }
        if unreadable > 0 {
            notes.add(.unreadableMemoryMaps, "\(unreadable) processes' memory maps were unreadable at start (other users' processes, or exited): their samples before any exec show as [unknown] symbols")
        }
    }
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
