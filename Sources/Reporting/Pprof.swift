import ProfileModel

/// A minimal protobuf wire-format encoder: varints, length-delimited fields and packed repeated
/// varints — all that pprof's profile.proto needs.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// A varint field (int64 as two's complement, uint64, bool); zero values are omitted (proto3).
    mutating func field(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, 0)
        varint(value)
    }

    mutating func field(_ field: Int, int value: Int64) { self.field(field, UInt64(bitPattern: value)) }

    mutating func field(_ field: Int, bool value: Bool) { self.field(field, value ? 1 : 0) }

    mutating func field(_ field: Int, bytes value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func field(_ field: Int, string value: String) { self.field(field, bytes: Array(value.utf8)) }

    mutating func field(_ field: Int, message: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        message(&inner)
        self.field(field, bytes: inner.bytes)
    }

    /// A packed repeated varint field (omitted when empty).
    mutating func field(_ field: Int, packed values: [UInt64]) {
        guard !values.isEmpty else { return }
        var inner = ProtobufWriter()
        for v in values { inner.varint(v) }
        self.field(field, bytes: inner.bytes)
    }
}

/// gzip (RFC 1952) around "stored" deflate blocks (RFC 1951 BTYPE 00): valid gzip that every reader
/// accepts, with no compression and no zlib dependency.
public enum Gzip {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 (IEEE) of `data`.
    public static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        data.withUnsafeBufferPointer { buffer in
            for b in buffer { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    /// `data` in a gzip member of stored blocks.
    public static func stored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        out.reserveCapacity(data.count + data.count / 65535 * 5 + 30)
        var offset = 0
        repeat {
            let length = min(65535, data.count - offset)
            let final = offset + length == data.count
            out.append(final ? 1 : 0)
            out.append(UInt8(length & 0xFF)); out.append(UInt8(length >> 8))
            out.append(UInt8(~length & 0xFF)); out.append(UInt8((~length >> 8) & 0xFF))
            out.append(contentsOf: data[offset..<(offset + length)])
            offset += length
        } while offset < data.count
        let crc = crc32(data)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((crc >> UInt32(shift)) & 0xFF)) }
        let size = UInt32(truncatingIfNeeded: data.count)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((size >> UInt32(shift)) & 0xFF)) }
        return out
    }
}

/// Writes a ``Profile`` as pprof's `profile.proto`, gzipped, for `go tool pprof`, Pyroscope and
/// other pprof readers.
///
/// - Sample types: `samples/count` and the event's period (`cpu/nanoseconds` for `cpu-clock` and
///   `task-clock`, else `EVENT/count`), the period the default; for an off-CPU profile
///   `switches/count` and `off-cpu/nanoseconds`, the nanoseconds the default.
/// - One sample per unique stack and thread, location ids leaf first, with labels `thread` (the
///   command; `comm` the same, as Parca and Pyroscope name it), `pid` and `tid`.
/// - One mapping per DSO, the main binary first (pprof takes the first mapping for the program:
///   its `File:` line, where it looks for symbols), one location per frame (its address), one
///   function per (name, file), and a line number when the frame has a `file:line`. Kernel, JIT
///   and inlined frames keep their names.
public enum PprofWriter {
    /// The main binary of a profile: the executable of its busiest process (the one with the
    /// most samples, or time). Of the files that process ran code in (kernel, `[...]` pseudo
    /// files and shared objects `*.so*` aside), the one named as the process is (its comm is
    /// its executable's name, cut to 15 bytes), else the one most of its stacks pass through.
    /// nil when the profile has no such file (only kernel or library code was sampled).
    public static func mainBinary(of profile: Profile) -> String? {
        var weightByPID: [Int32: UInt64] = [:]
        for stack in profile.stacks where Int(stack.thread) < profile.threads.count && stack.thread >= 0 {
            weightByPID[profile.threads[Int(stack.thread)].pid, default: 0] &+= stack.value
        }
        guard let pid = weightByPID.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })?.key else { return nil }
        func isProgram(_ path: String) -> Bool {
            guard path.hasPrefix("/"), let name = path.split(separator: "/").last else { return false }
            return !name.contains(".so") && !path.hasPrefix("/memfd:") && !path.hasPrefix("/tmp/perf-")
        }
        var weightByFile: [String: UInt64] = [:]
        var comm = ""
        for stack in profile.stacks where stack.thread >= 0 && Int(stack.thread) < profile.threads.count {
            let thread = profile.threads[Int(stack.thread)]
            guard thread.pid == pid else { continue }
            if thread.tid == pid || comm.isEmpty { comm = thread.comm }
            var seen: Set<String> = []
            for index in stack.frames where index >= 0 && Int(index) < profile.frames.count {
                let file = profile.frames[Int(index)].dso
                if isProgram(file), seen.insert(file).inserted { weightByFile[file, default: 0] &+= stack.value }
            }
        }
        let named = weightByFile.keys.filter { path in
            let name = path.split(separator: "/").last.map(String.init) ?? path
            return !comm.isEmpty && (name.hasPrefix(comm) || comm.hasPrefix(name))
        }
        let candidates = named.isEmpty ? Array(weightByFile.keys) : named
        return candidates.max { weightByFile[$0]! != weightByFile[$1]! ? weightByFile[$0]! < weightByFile[$1]! : $0 > $1 }
    }

    /// The uncompressed profile.proto message. `buildIDs` (file path to GNU build id, as a
    /// recording's build-id table has them) fill the mappings' `build_id`, in hex.
    public static func encode(_ profile: Profile, buildIDs: [String: [UInt8]] = [:]) -> [UInt8] {
        var strings: [String] = [""]
        var stringIds: [String: Int64] = ["": 0]
        func str(_ s: String) -> Int64 {
            if let id = stringIds[s] { return id }
            let id = Int64(strings.count)
            strings.append(s)
            stringIds[s] = id
            return id
        }

        let s = profile.summary
        var message = ProtobufWriter()
        // sample_type (1)
        let samplesType: (Int64, Int64)
        let periodType: (Int64, Int64)
        if profile.metric.isTime {
            samplesType = (str("switches"), str("count"))
            periodType = (str(profile.metric.name), str("nanoseconds"))
        } else {
            // perf's names carry modifiers (`cpu-clock:ppp`); the clocks count nanoseconds whatever they are.
            let base = s.event.split(separator: ":").first.map(String.init) ?? s.event
            let timeBased = base == "cpu-clock" || base == "task-clock"
            samplesType = (str("samples"), str("count"))
            periodType = timeBased ? (str("cpu"), str("nanoseconds")) : (str(s.event), str("count"))
        }
        for (type, unit) in [samplesType, periodType] {
            message.field(1) { m in m.field(1, int: type); m.field(2, int: unit) }
        }

        // Mappings, functions and locations.
        let dsoNames = DSONames(profile)
        var mappingIds: [String: UInt64] = [:]
        var mappings: [(id: UInt64, file: String)] = []
        var functionIds: [String: UInt64] = [:]
        var functions: [(id: UInt64, name: String, file: String)] = []
        if let main = mainBinary(of: profile) {
            mappingIds[main] = 1
            mappings.append((1, main))
        }
        var locations: [(id: UInt64, mapping: UInt64, address: UInt64, function: UInt64, line: Int64)] = []
        func location(for frame: Frame) -> UInt64 {
            let dso = frame.dso.isEmpty ? Frame.unknownSymbol : frame.dso
            let mapping: UInt64
            if let m = mappingIds[dso] { mapping = m } else {
                mapping = UInt64(mappings.count + 1)
                mappingIds[dso] = mapping
                mappings.append((mapping, dso))
            }
            let name = FoldedWriter.frameLabel(frame, options: FoldedOptions(), dsoNames: dsoNames)
            let file = frame.source?.line == nil ? "" : frame.source?.file ?? ""
            let line = Int64(frame.source?.line ?? 0)
            let key = name + "\u{0}" + file
            let function: UInt64
            if let f = functionIds[key] { function = f } else {
                function = UInt64(functions.count + 1)
                functionIds[key] = function
                functions.append((function, name, file))
            }
            let id = UInt64(locations.count + 1)
            locations.append((id, mapping, frame.address, function, line))
            return id
        }
        let frameLocation = profile.frames.map(location(for:))
        let unknownLocation = location(for: .unknown)

        // sample (2)
        let threadKey = str("thread"), pidKey = str("pid"), tidKey = str("tid"), commKey = str("comm")
        let threadNames = profile.threads.map { str($0.comm) }
        for stack in profile.stacks where stack.value > 0 {
            message.field(2) { m in
                var ids: [UInt64] = []
                ids.reserveCapacity(stack.frames.count)
                for f in stack.frames.reversed() {
                    ids.append(f >= 0 && Int(f) < frameLocation.count ? frameLocation[Int(f)] : unknownLocation)
                }
                if ids.isEmpty { ids.append(unknownLocation) }
                m.field(1, packed: ids)
                m.field(2, packed: [stack.samples, stack.period])
                let t = Int(stack.thread)
                if t >= 0 && t < profile.threads.count {
                    let thread = profile.threads[t]
                    m.field(3) { l in l.field(1, int: threadKey); l.field(2, int: threadNames[t]) }
                    // `comm` as Parca and Pyroscope's eBPF agents name it; `thread` kept for earlier readers.
                    m.field(3) { l in l.field(1, int: commKey); l.field(2, int: threadNames[t]) }
                    m.field(3) { l in l.field(1, int: pidKey); l.field(3, int: Int64(thread.pid)) }
                    m.field(3) { l in l.field(1, int: tidKey); l.field(3, int: Int64(thread.tid)) }
                }
            }
        }
        // mapping (3)
        for mapping in mappings {
            let file = str(mapping.file)
            let buildID = buildIDs[mapping.file].map { id in str(id.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()) }
            message.field(3) { m in
                m.field(1, mapping.id)
                m.field(5, int: file)
                if let buildID { m.field(6, int: buildID) }
                m.field(7, bool: true)
                m.field(8, bool: true)
                m.field(9, bool: true)
            }
        }
        // location (4)
        for loc in locations {
            message.field(4) { m in
                m.field(1, loc.id)
                m.field(2, loc.mapping)
                m.field(3, loc.address)
                m.field(4) { l in l.field(1, loc.function); l.field(2, int: loc.line) }
            }
        }
        // function (5)
        for function in functions {
            let name = str(function.name), file = str(function.file)
            message.field(5) { m in
                m.field(1, function.id)
                m.field(2, int: name)
                m.field(3, int: name)
                m.field(4, int: file)
            }
        }
        // period_type (11), period (12), comments (13), default_sample_type (14)
        let commentIds = ([s.commandLine.map { "perch: \($0)" }] + s.notes.map { Optional($0.text) }).compactMap { $0 }.map { str($0) }
        let period: Int64 = Int64(clamping: s.period ?? (s.frequency.map { $0 > 0 ? 1_000_000_000 / $0 : 0 } ?? 0))
        // string_table (6) must hold every id used, so it is written after everything was interned.
        for string in strings { message.field(6, string: string) }
        message.field(11) { m in m.field(1, int: periodType.0); m.field(2, int: periodType.1) }
        message.field(12, int: period)
        message.field(13, packed: commentIds.map { UInt64($0) })
        message.field(14, int: periodType.0)
        return message.bytes
    }

    /// The gzipped profile, as pprof files are stored.
    public static func write(_ profile: Profile, buildIDs: [String: [UInt8]] = [:]) -> [UInt8] {
        Gzip.stored(encode(profile, buildIDs: buildIDs))
    }
}
