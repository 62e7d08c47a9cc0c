import PerfEvents
import PerfRecords
import SystemIO

/// Builds the records perf synthesizes for state that existed before the recording started:
/// COMM for each thread, MMAP2 for each executable mapping (from /proc/PID/maps), and the
/// kernel's text mapping. They go first in the data section, so the file is self-contained.
struct RecordSynthesizer {
    let attributes: EventAttributes
    let eventID: UInt64

    /// COMM records for every thread of `pid`.
    func comms(pid: Int32, into emit: (UnsafeRawBufferPointer) -> Void) {
        for tid in TaskDiscovery.threads(of: pid) ?? [] {
            guard let name = TaskDiscovery.comm(pid: pid, tid: tid) else { continue }
            var body: [UInt8] = []
            body.append(littleEndian: UInt32(bitPattern: pid))
            body.append(littleEndian: UInt32(bitPattern: tid))
            body.append(contentsOf: paddedCString(name))
            emitRecord(.comm, misc: 0, body: body, pid: pid, tid: tid, emit)
        }
    }

    /// MMAP2 records for the executable file mappings of `pid`; false when its maps are unreadable.
    @discardableResult
    func mmaps(pid: Int32, into emit: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let maps = readProcFile("/proc/\(pid)/maps"), !maps.isEmpty || isKernelThread(pid) else { return false }
        for line in maps.split(separator: "\n") {
            guard let mapping = ProcMapsLine(line), mapping.permissions.contains("x") else { continue }
            var body: [UInt8] = []
            body.append(littleEndian: UInt32(bitPattern: pid))
            body.append(littleEndian: UInt32(bitPattern: pid))
            body.append(littleEndian: mapping.start)
            body.append(littleEndian: mapping.end - mapping.start)
            body.append(littleEndian: mapping.offset)
            body.append(littleEndian: mapping.major)
            body.append(littleEndian: mapping.minor)
            body.append(littleEndian: mapping.inode)
            body.append(littleEndian: UInt64(0))
            var protection: UInt32 = 0
            if mapping.permissions.contains("r") { protection |= 1 }
            if mapping.permissions.contains("w") { protection |= 2 }
            if mapping.permissions.contains("x") { protection |= 4 }
            body.append(littleEndian: protection)
            body.append(littleEndian: UInt32(mapping.permissions.contains("p") ? 2 : 1))  // MAP_PRIVATE / MAP_SHARED
            body.append(contentsOf: paddedCString(mapping.path.isEmpty ? "//anon" : mapping.path))
            emitRecord(.mmap2, misc: 2, body: body, pid: pid, tid: pid, emit)  // PERF_RECORD_MISC_USER
        }
        return true
    }

    /// Kernel threads have empty maps; that is not a failure to read them.
    private func isKernelThread(_ pid: Int32) -> Bool {
        (readProcFile("/proc/\(pid)/stat")?.split(separator: " ").dropFirst(8).first).flatMap { UInt64($0) }.map { $0 & 0x0020_0000 != 0 } ?? false
    }

    /// The kernel text mapping perf writes as `[kernel.kallsyms]_text`, so perf report places kernel samples.
    func kernelMap(textStart: UInt64, into emit: (UnsafeRawBufferPointer) -> Void) {
        var body: [UInt8] = []
        body.append(littleEndian: UInt32(bitPattern: -1))
        body.append(littleEndian: UInt32(0))
        body.append(littleEndian: textStart)
        body.append(littleEndian: UInt64.max - textStart)
        body.append(littleEndian: textStart)
        body.append(contentsOf: paddedCString("[kernel.kallsyms]_text"))
        emitRecord(.mmap, misc: 1, body: body, pid: -1, tid: 0, emit)  // PERF_RECORD_MISC_KERNEL
    }

    private func emitRecord(_ type: RecordType, misc: UInt16, body: [UInt8], pid: Int32, tid: Int32,
                            _ emit: (UnsafeRawBufferPointer) -> Void) {
        var trailer: [UInt8] = []
        let sampleType = attributes.sampleType
        if sampleType.contains(.tid) {
            trailer.append(littleEndian: UInt32(bitPattern: pid))
            trailer.append(littleEndian: UInt32(bitPattern: tid))
        }
        if sampleType.contains(.time) { trailer.append(littleEndian: UInt64(0)) }
        if sampleType.contains(.id) { trailer.append(littleEndian: eventID) }
        if sampleType.contains(.streamID) { trailer.append(littleEndian: eventID) }
        if sampleType.contains(.cpu) { trailer.append(littleEndian: UInt64(0)) }
        if sampleType.contains(.identifier) { trailer.append(littleEndian: eventID) }
        if !attributes.flags.contains(.sampleIDAll) { trailer = [] }
        var record: [UInt8] = []
        record.append(littleEndian: type.rawValue)
        record.append(littleEndian: misc)
        record.append(littleEndian: UInt16(8 + body.count + trailer.count))
        record.append(contentsOf: body)
        record.append(contentsOf: trailer)
        record.withUnsafeBytes(emit)
    }

    /// A NUL-terminated string padded with zeros to a multiple of 8 bytes.
    private func paddedCString(_ string: String) -> [UInt8] {
        var bytes = Array(string.utf8.prefix(4000))
        bytes.append(0)
        while bytes.count % 8 != 0 { bytes.append(0) }
        return bytes
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
