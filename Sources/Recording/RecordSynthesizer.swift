import PerfABI
import PerfEvents
import SystemIO

/// Builds the records perf synthesizes for state that existed before the recording started:
/// COMM for each thread, MMAP2 for each executable mapping (from /proc/PID/maps), and the
/// kernel's text mapping. They go first in the data section, so the file is self-contained.
public struct RecordSynthesizer {
    public let attributes: EventAttributes
    public let eventID: UInt64

    /// Records for the event `eventID` with `attributes` (its `sample_id_all` trailer).
    public init(attributes: EventAttributes, eventID: UInt64) {
        self.attributes = attributes
        self.eventID = eventID
    }

    /// COMM records for every thread of `pid`.
    public func comms(pid: Int32, into emit: (UnsafeRawBufferPointer) -> Void) {
        for tid in TaskDiscovery.threads(of: pid) ?? [] {
            guard let name = TaskDiscovery.comm(pid: pid, tid: tid) else { continue }
            var record = RecordEncoder(type: .comm)
            record.append(UInt32(bitPattern: pid))
            record.append(UInt32(bitPattern: tid))
            record.appendString(name)
            hand(record, pid: pid, tid: tid, to: emit)
        }
    }

    /// MMAP2 records for the executable file mappings of `pid`; false when its maps are unreadable.
    @discardableResult
    public func mmaps(pid: Int32, into emit: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let maps = readProcFile("/proc/\(pid)/maps"), !maps.isEmpty || isKernelThread(pid) else { return false }
        for line in maps.split(separator: "\n") {
            guard let mapping = ProcMapsLine(line), mapping.permissions.contains("x") else { continue }
            var record = RecordEncoder(type: .mmap2, misc: 2)  // PERF_RECORD_MISC_USER
            record.append(UInt32(bitPattern: pid))
            record.append(UInt32(bitPattern: pid))
            record.append(mapping.start)
            record.append(mapping.end - mapping.start)
            record.append(mapping.offset)
            record.append(mapping.major)
            record.append(mapping.minor)
            record.append(mapping.inode)
            record.append(UInt64(0))
            var protection: UInt32 = 0
            if mapping.permissions.contains("r") { protection |= 1 }
            if mapping.permissions.contains("w") { protection |= 2 }
            if mapping.permissions.contains("x") { protection |= 4 }
            record.append(protection)
            record.append(UInt32(mapping.permissions.contains("p") ? 2 : 1))  // MAP_PRIVATE / MAP_SHARED
            record.appendString(mapping.path.isEmpty ? "//anon" : mapping.path)
            hand(record, pid: pid, tid: pid, to: emit)
        }
        return true
    }

    /// Kernel threads have empty maps; that is not a failure to read them.
    private func isKernelThread(_ pid: Int32) -> Bool {
        (readProcFile("/proc/\(pid)/stat")?.split(separator: " ").dropFirst(8).first).flatMap { UInt64($0) }.map { $0 & 0x0020_0000 != 0 } ?? false
    }

    /// The kernel text mapping perf writes as `[kernel.kallsyms]_text`, so perf report places kernel samples.
    func kernelMap(textStart: UInt64, into emit: (UnsafeRawBufferPointer) -> Void) {
        var record = RecordEncoder(type: .mmap, misc: 1)  // PERF_RECORD_MISC_KERNEL
        record.append(UInt32(bitPattern: -1))
        record.append(UInt32(0))
        record.append(textStart)
        record.append(UInt64.max - textStart)
        record.append(textStart)
        record.appendString("[kernel.kallsyms]_text")
        hand(record, pid: -1, tid: 0, to: emit)
    }

    /// Hands on `record` with the trailer the event's `sample_id_all` asks for.
    private func hand(_ record: RecordEncoder, pid: Int32, tid: Int32, to emit: (UnsafeRawBufferPointer) -> Void) {
        var record = record
        if attributes.flags.contains(.sampleIDAll) {
            record.appendTrailer(pid: pid, tid: tid, id: eventID, streamID: eventID, sampleType: attributes.sampleType)
        }
        record.finished().withUnsafeBytes(emit)
    }
}

/// One line of /proc/PID/maps: `start-end perms offset major:minor inode path`.
struct ProcMapsLine {
    var start: UInt64
    var end: UInt64
    var permissions: Substring
    var offset: UInt64
    var major: UInt32
    var minor: UInt32
    var inode: UInt64
    var path: String

    init?(_ line: Substring) {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let range = fields[0].split(separator: "-")
        let device = fields[3].split(separator: ":")
        guard range.count == 2, device.count == 2,
              let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
              let offset = UInt64(fields[2], radix: 16),
              let major = UInt32(device[0], radix: 16), let minor = UInt32(device[1], radix: 16),
              let inode = UInt64(fields[4]) else { return nil }
        self.start = start
        self.end = end
        self.permissions = fields[1]
        self.offset = offset
        self.major = major
        self.minor = minor
        self.inode = inode
        self.path = fields.count > 5 ? fields[5].trimmingCharacters(in: " ") : ""
    }
}
