import ProfileModel

/// The fields `perch script -F` chooses from, named as perf script names them.
public enum ScriptField: String, CaseIterable, Sendable {
    case comm, tid, pid, cpu, time, period, event, trace, ip, sym, symoff, dso, srcline

    /// perf script's default for sampled events, less what a sample did not record.
    public static let defaults: [ScriptField] = [.comm, .tid, .cpu, .time, .period, .event, .trace, .ip, .sym, .symoff, .dso]
}

/// Writes samples in perf script's default layout (perf 6.1): a line
/// `comm  tid [cpu] secs.usecs:     period event: `, then the stack one frame per line,
/// `\t%16x sym+0xoff (dso)`, and a blank line; without recorded stacks the sampled frame ends
/// the line instead. Text is gathered in a buffer handed to `flush` every 64 KiB, so memory does
/// not grow with the samples.
public struct ScriptWriter {
    private let fields: Set<ScriptField>
    /// Whether the fields are perf's default set (not chosen with `-F`).
    private let fieldsAreDefault: Bool
    /// Event names are right-aligned to the longest of the recording's (as perf aligns them).
    private let eventWidth: Int
    private let nanoseconds: Bool
    private let fullSourcePaths: Bool
    private let flush: (UnsafeRawBufferPointer) throws -> Void
    private var buffer: [UInt8] = []
    private static let flushSize = 1 << 16

    /// - Parameters:
    ///   - fields: what to print; a field a sample lacks (cpu, time, period) is left out.
    ///   - eventNames: the recording's event names, for their column's width.
    ///   - nanoseconds: times as `secs.nnnnnnnnn` (perf's `--ns`) instead of microseconds.
    ///   - fullSourcePaths: `srcline` with the source file's whole path, not its name alone.
    ///   - flush: takes the bytes written so far; what it throws stops the writer.
    ///   - chosen: whether `-F` chose the fields (else perf's defaults, which leave a tracepoint's period out).
    public init(fields: [ScriptField], chosen: Bool = false, eventNames: [String], nanoseconds: Bool = false,
                fullSourcePaths: Bool = false, flush: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.fields = Set(fields)
        self.fieldsAreDefault = !chosen
        self.eventWidth = eventNames.map(\.count).max() ?? 0
        self.nanoseconds = nanoseconds
        self.fullSourcePaths = fullSourcePaths
        self.flush = flush
        buffer.reserveCapacity(Self.flushSize + 4096)
    }

    /// Appends one sample's entry.
    public mutating func write(_ sample: ResolvedSample) throws {
        // As perf: the stack is shown with `ip`; sym, symoff, dso and srcline describe its frames.
        let showsStack = fields.contains(.ip)
        let chain = showsStack && sample.hasCallchain
        if fields.contains(.comm) {
            // perf pads the name to 16 columns unless a stack follows on lines of its own.
            append(chain ? sample.comm : padded(sample.comm, 16))
            append(" ")
        }
        switch (fields.contains(.pid), fields.contains(.tid)) {
        case (true, true): append(padded(String(sample.pid), 5) + "/" + String(sample.tid).padding(5) + " ")
        case (true, false): append(padded(String(sample.pid), 5) + " ")
        case (false, true): append(padded(String(sample.tid), 5) + " ")
        case (false, false): break
        }
        if fields.contains(.cpu), let cpu = sample.cpu {
            append("[" + zeroPadded(String(cpu), 3) + "] ")
        }
        if fields.contains(.time), let time = sample.time {
            let seconds = time / 1_000_000_000, fraction = time % 1_000_000_000
            if nanoseconds {
                append(padded(String(seconds), 5) + "." + zeroPadded(String(fraction), 9) + ": ")
            } else {
                append(padded(String(seconds) + "." + zeroPadded(String(fraction / 1000), 6), 12) + ": ")
            }
        }
        // perf's default fields for tracepoints leave the period out (it is 1 per hit).
        if fields.contains(.period), let period = sample.period, sample.tracepointFields == nil || !fieldsAreDefault {
            append(padded(String(period), 10) + " ")
        }
        if fields.contains(.event) {
            append(padded(sample.event, eventWidth) + ": ")
        }
        if fields.contains(.trace), let tracepointFields = sample.tracepointFields {
            append(tracepointFields + " ")  // as perf: the fields after the event, the stack below
        }
        if chain {
            append("\n")
            for frame in sample.frames {
                append("\t")
                appendFrame(frame, address: frame.address)
                append("\n")
            }
        } else if showsStack, let frame = sample.frames.first(where: { $0.frame.kind != .inlined }) ?? sample.frames.first {
            // The sampled function alone (as perf: not the functions inlined into it), on the
            // sample's line, at its address as sampled.
            append(" ")
            appendFrame(frame, address: sample.ip)
        }
        append("\n")
        if buffer.count >= Self.flushSize { try flushBuffer() }
    }

    /// Hands on what is left in the buffer.
    public mutating func finish() throws {
        if !buffer.isEmpty { try flushBuffer() }
    }

    private mutating func appendFrame(_ resolved: ResolvedFrame, address: UInt64) {
        let frame = resolved.frame
        append(padded(String(address, radix: 16), 16))
        if fields.contains(.sym) || fields.contains(.symoff) {
            append(" " + frame.symbol)
            if fields.contains(.symoff), let offset = resolved.symbolOffset {
                append("+0x" + String(offset, radix: 16))
            }
        }
        if frame.kind == .inlined {
            if fields.contains(.dso) { append(" " + "(inlined)") }
        } else if fields.contains(.dso) {
            append(" " + "(" + frame.dso + ")")
        }
        if fields.contains(.srcline) {
            // perf's srcline: the file's name and line, else the DSO's name and the address.
            if let source = frame.source {
                let file = fullSourcePaths ? source.file : String(source.file.split(separator: "/").last ?? "")
                append("\n  " + file + (source.line.map { ":\($0)" } ?? ""))
            } else {
                let dso = frame.dso.hasPrefix("[") ? frame.dso : String(frame.dso.split(separator: "/").last ?? "")
                append("\n  " + dso + "[" + String(address, radix: 16) + "]")
            }
        }
    }

    private mutating func flushBuffer() throws {
        try buffer.withUnsafeBytes { try flush($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private mutating func append(_ text: String) {
        buffer.append(contentsOf: text.utf8)
    }

    private func padded(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : String(repeating: " ", count: width - count) + text
    }

    private func zeroPadded(_ text: String, _ width: Int) -> String {
        let count = text.count
        return count >= width ? text : String(repeating: "0", count: width - count) + text
    }
}

private extension String {
    /// Left-aligned in `width` columns.
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
