import ArgumentParser
import Reporting
import Symbolication
import SystemIO
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// `perch symbolize`: addresses in an ELF file → function, file:line:column, in
/// llvm-symbolizer's layout so the two can be diffed.
struct SymbolizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "symbolize",
        abstract: "Name addresses in an ELF file (function, inlined frames, file:line:column).",
        discussion: """
            Addresses are link-time virtual addresses in FILE (as llvm-symbolizer --obj takes \
            them), in hex with or without 0x, from the arguments or else one per line on \
            standard input. For each address it prints the function, then file:line:column \
            (?? and ??:0:0 when unknown), then a blank line; with --inlines every inlined \
            frame is printed, innermost first, as llvm-symbolizer does by default.
            """
    )

    @Option(name: [.customShort("e"), .customLong("exe"), .customLong("obj")], help: "The ELF file the addresses are in.")
    var file: String

    @Flag(name: [.short, .customLong("inlines")], help: "Print inlined frames, innermost first (llvm-symbolizer's default).")
    var inlines = false

    @Flag(help: "Write one JSON object per address (llvm-symbolizer --output-style=JSON).")
    var json = false

    @Flag(help: "Print Swift names in full instead of the simplified form.")
    var fullNames = false

    @Flag(help: "Print names as the symbol table has them (llvm-symbolizer --no-demangle).")
    var noDemangle = false

    @Option(name: .customLong("debug-dir"), help: "Also look for debug files under DIR (repeatable).")
    var debugDirectories: [String] = []

    @Argument(help: "Addresses (hex). Read from standard input when none are given.")
    var addresses: [String] = []

    func run() throws {
        let symbolizer = DWARFSymbolizer(names: noDemangle ? .mangled : fullNames ? .full : .simplified, debugDirectories: debugDirectories)
        guard symbolizer.image(forPath: file) != nil else {
            throw PerchError.badInput(symbolizer.failures[file].map { "\($0)" } ?? "cannot open \(file)")
        }
        for note in symbolizer.notes { printError("perch: note: \(note)") }
        var output = OutputBuffer()
        if !addresses.isEmpty {
            let batch = symbolize(addresses, symbolizer)
            if json { output.append("[") }
            for (index, text) in addresses.enumerated() {
                if json && index > 0 { output.append(",") }
                format(text, address: batch.addresses[index], frames: batch.frames[index], into: &output)
                try output.flushWhenFull()
            }
            if json { output.append("]\n") }
            try output.flush()
            return
        }
        // Lines are bounded (an address is short) and so is the whole input: /dev/zero or an
        // endless stream ends in an error, not in memory growing until the end.
        var reader = LineReader(fd: 0, naming: "standard input", maxLineLength: 4096, limit: inputSizeLimit)
        if isatty(0) != 0 {
            // Answer each line as it is typed.
            while let line = try readLine(&reader) {
                let address = SymbolizeCommand.parseAddress(line)
                let frames = address.map { symbolizer.symbolize(path: file, virtualAddress: $0) } ?? []
                format(line, address: address, frames: frames, into: &output)
                if json { output.append("\n") }
                try output.flush()
            }
        } else {
            // A batch: everything the addresses need is looked up at once, on both CPUs.
            var lines: [String] = []
            while let line = try readLine(&reader) { lines.append(line) }
            let batch = symbolize(lines, symbolizer)
            try formatOnAllCPUs(lines, batch.addresses, batch.frames, into: &output)
        }
        try output.flush()
        // Skip tearing down the caches: the process is done.
        withExtendedLifetime(symbolizer) { Glibc.exit(0) }
    }

    private func readLine(_ reader: inout LineReader) throws(PerchError) -> String? {
        do { return try reader.next() } catch { throw .read(error) }
    }

    /// Each text's address (`nil`: not a number) and its frames, found in one batch.
    private func symbolize(_ texts: [String], _ symbolizer: DWARFSymbolizer) -> (addresses: [UInt64?], frames: [[SymbolizedFrame]]) {
        let addresses = texts.map(SymbolizeCommand.parseAddress)
        var found = symbolizer.symbolize(path: file, virtualAddresses: addresses.compactMap { $0 }).makeIterator()
        return (addresses, addresses.map { $0 == nil ? [] : found.next() ?? [] })
    }

    /// The answers to a batch, one per line, formatted on all CPUs: in windows of lines, each
    /// CPU formatting a run of the window into bytes of its own, written in order.
    private func formatOnAllCPUs(
        _ lines: [String], _ addresses: [UInt64?], _ frames: [[SymbolizedFrame]], into output: inout OutputBuffer
    ) throws(WriteError) {
        let lanes = max(1, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), lines.count / 1024))
        let window = 4096 * lanes
        var parts = Array(repeating: OutputBuffer(), count: lanes)
        for first in stride(from: 0, to: lines.count, by: window) {
            let end = min(lines.count, first + window)
            let chunk = (end - first + lanes - 1) / lanes
            parts.withUnsafeMutableBufferPointer { parts in
                // Each lane writes only its own part; the command is only read.
                let shared = LaneShared((parts, self))
                DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                    let (parts, command) = shared.value
                    let from = first + lane * chunk
                    for index in from..<min(end, from + chunk) {
                        command.format(lines[index], address: addresses[index], frames: frames[index], into: &parts[lane])
                        if command.json { parts[lane].append("\n") }
                    }
                }
            }
            try output.flush()
            for lane in parts.indices { try parts[lane].flush() }
        }
    }

    private func format(_ text: String, address: UInt64?, frames: [SymbolizedFrame], into output: inout OutputBuffer) {
        var frames = frames
        if !inlines, frames.count > 1, let innermost = frames.first, let outermost = frames.last {
            var merged = innermost
            merged.function = outermost.function
            merged.isInlined = false
            frames = [merged]
        }
        if json {
            output.append(SymbolizeCommand.jsonObject(address: address, text: text, module: file, frames: frames))
            return
        }
        if frames.isEmpty { frames = [SymbolizedFrame(function: "??")] }
        for frame in frames {
            output.append(frame.function.isEmpty ? "??" : frame.function)
            output.append(byte: 0x0A)
            if let source = frame.sourceFile, !source.isEmpty {
                output.append(source)
                output.append(byte: 0x3A)
                output.append(number: frame.line ?? 0)
                output.append(byte: 0x3A)
                output.append(number: frame.column ?? 0)
                output.append(byte: 0x0A)
            } else {
                output.append("??:0:0\n")
            }
        }
        output.append(byte: 0x0A)
    }

    /// Hex with or without `0x`, surrounding blanks ignored; `nil` when not a number.
    static func parseAddress(_ text: String) -> UInt64? {
        var text = text
        return text.withUTF8 { bytes -> UInt64? in
            var start = 0
            var end = bytes.count
            while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 || bytes[end - 1] == 0x0D { end -= 1 }
            if end - start >= 2, bytes[start] == 0x30, bytes[start + 1] | 0x20 == 0x78 { start += 2 }
            guard start < end, end - start <= 16 else { return nil }
            var value: UInt64 = 0
            for byte in bytes[start..<end] {
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x61...0x66: digit = byte - 0x61 + 10
                case 0x41...0x46: digit = byte - 0x41 + 10
                default: return nil
                }
                value = value << 4 | UInt64(digit)
            }
            return value
        }
    }

    static func jsonObject(address: UInt64?, text: String, module: String, frames: [SymbolizedFrame]) -> String {
        var out = "{\"Address\":"
        out += address.map { "\"0x" + String($0, radix: 16) + "\"" } ?? jsonString(text)
        out += ",\"ModuleName\":" + jsonString(module) + ",\"Symbol\":["
        for (index, frame) in frames.enumerated() {
            if index > 0 { out += "," }
            out += "{\"Column\":\(frame.column ?? 0),\"FileName\":" + jsonString(frame.sourceFile ?? "")
            out += ",\"FunctionName\":" + jsonString(frame.function)
            out += ",\"Inlined\":\(frame.isInlined),\"Line\":\(frame.line ?? 0)}"
        }
        return out + "]}"
    }

    static func jsonString(_ text: String) -> String { JSON.string(text) }
}

/// Collects output bytes and writes them to standard output in large chunks.
private struct OutputBuffer {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1 << 17) }

    mutating func append(_ piece: String) {
        bytes.append(contentsOf: piece.utf8)
    }

    /// Writes the bytes out once there are 64 KiB of them.
    mutating func flushWhenFull() throws(WriteError) {
        if bytes.count >= 1 << 16 { try flush() }
    }

    mutating func append(byte: UInt8) {
        bytes.append(byte)
    }

    mutating func append(number: Int) {
        guard number > 0 else {
            if number == 0 { bytes.append(0x30) } else { bytes.append(contentsOf: String(number).utf8) }
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var value = number
        withUnsafeMutableBytes(of: &digits) { buffer in
            while value > 0 {
                buffer[count] = UInt8(value % 10) + 0x30
                value /= 10
                count += 1
            }
            while count > 0 {
                count -= 1
                bytes.append(buffer[count])
            }
        }
    }

    mutating func flush() throws(WriteError) {
        guard !bytes.isEmpty else { return }
        try bytes.withUnsafeBufferPointer { buffer throws(WriteError) in try writeOut(UnsafeRawBufferPointer(buffer)) }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// What the formatting lanes share: each writes only its own part of it.
private struct LaneShared<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
