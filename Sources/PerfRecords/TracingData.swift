import PerfABI
import SystemIO

/// perf's TRACING_DATA feature (tools/perf/util/trace-event-read.c), read only as far as the
/// tracepoint formats: the magic `\x17\x08Dtracing`, a version string, endianness and long
/// size bytes, the page size, `header_page` and `header_event` blocks, the ftrace formats, then
/// per subsystem its name and its events' `format` texts. Everything after is not read.
enum TracingData {
    /// Every event format in the section, named `subsystem:name`; empty when the section is
    /// not what perf writes (the reader gives up without an error: formats are a help).
    static func formats(in bytes: UnsafeRawBufferPointer) -> [RecordedTracepointFormat] {
        var reader = Reader(bytes: bytes)
        let magic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)
        guard reader.take(magic.count).map(Array.init) == magic,
              reader.cString() != nil,             // version
              let endian = reader.take(1), endian[0] == 0,  // big-endian files are not read
              reader.take(1) != nil,               // sizeof(long)
              reader.u32() != nil                  // page size
        else { return [] }
        for name in ["header_page", "header_event"] {
            guard reader.cString() == name, let size = reader.u64(), reader.take(size) != nil else { return [] }
        }
        guard let ftraceCount = reader.u32() else { return [] }
        for _ in 0..<min(ftraceCount, 10_000) {
            guard let size = reader.u64(), reader.take(size) != nil else { return [] }
        }
        guard let systems = reader.u32() else { return [] }
        var formats: [RecordedTracepointFormat] = []
        for _ in 0..<min(systems, 10_000) {
            guard let system = reader.cString(), let count = reader.u32() else { return formats }
            for _ in 0..<min(count, 100_000) {
                guard let size = reader.u64(), size <= 1 << 20, let text = reader.take(size) else { return formats }
                let format = String(decoding: text, as: UTF8.self)
                let name = format.split(separator: "\n").first { $0.hasPrefix("name:") }
                    .map { String($0.dropFirst(5)).trimmingCharacters(in: " \t") } ?? ""
                formats.append(RecordedTracepointFormat(event: "\(system):\(name)", format: format))
            }
        }
        return formats
    }

    /// The section as perf writes it (version 0.6, little-endian, 8-byte longs): the headers,
    /// no ftrace formats, the tracepoint formats grouped by subsystem, and empty kallsyms,
    /// printk formats and saved command lines.
    static func encode(formats: [RecordedTracepointFormat], headers: (page: String, event: String)) -> [UInt8] {
        var bytes: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)
        bytes += Array("0.6".utf8) + [0]
        bytes += [0, 8]
        bytes.append(littleEndian: UInt32(4096))
        for (name, text) in [("header_page", headers.page), ("header_event", headers.event)] {
            bytes += Array(name.utf8) + [0]
            bytes.append(littleEndian: UInt64(text.utf8.count))
            bytes += Array(text.utf8)
        }
        bytes.append(littleEndian: UInt32(0))  // ftrace formats
        var systems: [String: [String]] = [:]
        var order: [String] = []
        for format in formats {
            let system = String(format.event.prefix { $0 != ":" })
            if systems[system] == nil { order.append(system) }
            systems[system, default: []].append(format.format)
        }
        bytes.append(littleEndian: UInt32(order.count))
        for system in order {
            bytes += Array(system.utf8) + [0]
            let texts = systems[system] ?? []
            bytes.append(littleEndian: UInt32(texts.count))
            for text in texts {
                bytes.append(littleEndian: UInt64(text.utf8.count))
                bytes += Array(text.utf8)
            }
        }
        bytes.append(littleEndian: UInt32(0))  // kallsyms
        bytes.append(littleEndian: UInt32(0))  // printk formats
        bytes.append(littleEndian: UInt64(0))  // saved command lines
        return bytes
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
            guard count >= 0, count <= bytes.count - offset else { return nil }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        }

        mutating func take(_ count: UInt64) -> UnsafeRawBufferPointer? {
            guard count <= UInt64(Int.max) else { return nil }
            return take(Int(count))
        }

        mutating func u32() -> UInt32? { take(4).map { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
        mutating func u64() -> UInt64? { take(8).map { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }

        mutating func cString() -> String? {
            guard let end = bytes[offset...].firstIndex(of: 0), end - offset <= 4096 else { return nil }
            defer { offset = end + 1 }
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }
    }
}
