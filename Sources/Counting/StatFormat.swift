import SystemIO

/// How `perch stat` prints: perf stat's human table, its `-x SEP` columns, or its `-j` JSON lines.
public enum StatFormat: Sendable, Equatable {
    case human
    case csv(separator: String)
    case json

    /// One line, with its newline.
    public func format(_ line: StatLine) -> String {
        switch self {
        case .human: humanLine(line)
        case .csv(let separator): csvLine(line, separator: separator)
        case .json: jsonLine(line)
        }
    }

    /// `%6lu.%09lu`, perf's interval timestamp.
    static func timestamp(_ nanoseconds: UInt64) -> String {
        cFormat("%6lu.%09lu", UInt(nanoseconds / 1_000_000_000), UInt(nanoseconds % 1_000_000_000))
    }

    static func valueText(_ value: StatLine.Value, unit: String, csv: Bool) -> String {
        switch value {
        case .counted(let number):
            if unit == "msec" { return cFormat("%.2f", number) }
            return csv ? cFormat("%.0f", number) : cFormat("%'.0f", number)
        case .notCounted: return "<not counted>"
        case .notSupported: return "<not supported>"
        }
    }

    private func humanLine(_ line: StatLine) -> String {
        var text = ""
        if let interval = line.interval { text += Self.timestamp(interval) + " " }
        switch line.aggregate {
        case .cpu(let cpu): text += cFormat("CPU%-7d ", Int(cpu))
        case .thread(let comm, let tid): text += comm.alignedRight(16) + "-" + String(tid).alignedLeft(8) + " "
        case nil: break
        }
        let value = Self.valueText(line.value, unit: line.unit, csv: false)
        text += value.alignedRight(18) + " " + line.unit.alignedLeft(4) + " "
        guard case .counted = line.value else {
            return text + line.event.alignedLeft(25) + String(repeating: " ", count: 35) + "\n"
        }
        text += line.event.alignedLeft(32)
        if let metric = line.metric {
            text += " # " + cFormat("%8.3f", metric.value) + " " + metric.unit.alignedLeft(23)
        } else {
            text += String(repeating: " ", count: 35)
        }
        if let variance = line.variancePercent, variance != 0 { text += cFormat("  ( +-%6.2f%% )", variance) }
        if line.runningPercent < 100 { text += cFormat("  (%.2f%%)", line.runningPercent) }
        return text + "\n"
    }

    private func csvLine(_ line: StatLine, separator: String) -> String {
        var fields: [String] = []
        if let interval = line.interval { fields.append(Self.timestamp(interval)) }
        switch line.aggregate {
        case .cpu(let cpu): fields.append("CPU\(cpu)")
        case .thread(let comm, let tid): fields.append("\(comm)-\(tid)")
        case nil: break
        }
        fields.append(Self.valueText(line.value, unit: line.unit, csv: true))
        fields.append(line.unit)
        fields.append(line.event)
        if let variance = line.variancePercent { fields.append(cFormat("%.2f%%", variance)) }
        fields.append(String(line.runNanoseconds))
        fields.append(cFormat("%.2f", line.runningPercent))
        if case .counted = line.value, let metric = line.metric {
            fields.append(cFormat("%.3f", metric.value))
            fields.append(metric.unit)
        } else {
            fields.append("")
            fields.append("")
        }
        return fields.joined(separator: separator) + "\n"
    }

    private func jsonLine(_ line: StatLine) -> String {
        var fields: [String] = []
        if let interval = line.interval {
            fields.append("\"interval\" : \(Self.timestamp(interval).trimmingLeadingSpaces)")
        }
        switch line.aggregate {
        case .cpu(let cpu): fields.append("\"cpu\" : \"\(cpu)\"")
        case .thread(let comm, let tid): fields.append("\"thread\" : \(Self.quoted("\(comm)-\(tid)"))")
        case nil: break
        }
        switch line.value {
        case .counted(let number): fields.append("\"counter-value\" : \"\(cFormat("%f", number))\"")
        default: fields.append("\"counter-value\" : \"\(Self.valueText(line.value, unit: line.unit, csv: true))\"")
        }
        fields.append("\"unit\" : \(Self.quoted(line.unit))")
        fields.append("\"event\" : \(Self.quoted(line.event))")
        if let variance = line.variancePercent { fields.append("\"variance\" : \(cFormat("%.2f", variance))") }
        fields.append("\"event-runtime\" : \(line.runNanoseconds)")
        fields.append("\"pcnt-running\" : \(cFormat("%.2f", line.runningPercent))")
        if case .counted = line.value, let metric = line.metric {
            fields.append("\"metric-value\" : \(cFormat("%f", metric.value))")
            fields.append("\"metric-unit\" : \(Self.quoted(metric.unit))")
        } else {
            fields.append("\"metric-value\" : 0.000000")
            fields.append("\"metric-unit\" : \"\"")
        }
        return "{" + fields.joined(separator: ", ") + "}\n"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += "\\u" + cFormat("%04x", Int(scalar.value)) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// The human table's heading for interval mode, repeated every 25 intervals as perf does.
    public static func intervalHeading(aggregate: StatAggregate?) -> String {
        switch aggregate {
        case .cpu: "#           time CPU                    counts unit events\n"
        case .thread: "#           time             comm-pid                  counts unit events\n"
        case nil: "#           time             counts unit events\n"
        }
    }

    /// The human table's heading: ` Performance counter stats for 'CMD' (N runs):`.
    public static func heading(for subject: String, runs: Int) -> String {
        "\n Performance counter stats for \(subject)" + (runs > 1 ? " (\(runs) runs)" : "") + ":\n\n"
    }

    /// The human table's footer: elapsed time (with its spread over runs) and the command's
    /// user and system CPU time for one run.
    public static func footer(elapsed: RunningStatistics, userSeconds: Double?, systemSeconds: Double?) -> String {
        var text = "\n"
        let seconds = elapsed.mean / 1e9
        if elapsed.count <= 1 {
            text += cFormat(" %17.9f seconds time elapsed", seconds) + "\n\n"
            if let userSeconds, let systemSeconds {
                text += cFormat(" %17.9f seconds user\n", userSeconds) + cFormat(" %17.9f seconds sys\n", systemSeconds) + "\n"
            }
        } else {
            let spread = elapsed.standardDeviationOfMean / 1e9
            let precision = Int32(spread > 1 || spread <= 0 ? 0 : (-log10Approximation(spread)).rounded(.up)) + 2
            text += cFormat(" %17.*f +- %.*f seconds time elapsed", precision, seconds, precision, spread)
            if elapsed.relativeSpreadPercent != 0 { text += cFormat("  ( +-%6.2f%% )", elapsed.relativeSpreadPercent) }
            text += "\n\n"
        }
        return text
    }
}

/// log10 through the C library.
func log10Approximation(_ value: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.log10(value)
    #else
    return 0
    #endif
}

#if canImport(Glibc)
import Glibc
#endif

extension String {
    var trimmingLeadingSpaces: String { String(drop { $0 == " " }) }
}
