import Foundation
import Testing

/// An off-CPU profile measures nanoseconds blocked, and every output says so with the same
/// numbers: the fixture blocks 30 ms, 10 ms and 20 ms per round in three functions, so each format
/// must give them 3:1:2 in nanoseconds and agree with the text report. (Once, the text report was
/// right while folded, SVG and speedscope counted blocked intervals instead of time.)
@Suite(.serialized) struct OffCPUFormatsTests {
    static let functions = ["sleep_long", "sleep_short", "wait_for_pipe"]

    @Test func everyFormatGivesBlockedTimeThreeToOneToTwo() throws {
        let workload = try Support.fixture("off_cpu")
        let directory = Support.workDirectory
        let data = directory + "/off-cpu-formats.data"
        let recorded = try Support.perch(["record", "--switches", "-q", "-o", data, "--", workload, "12"])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let folded = directory + "/off-cpu-formats.folded", svg = directory + "/off-cpu-formats.svg"
        let speedscope = directory + "/off-cpu-formats.speedscope.json", pprof = directory + "/off-cpu-formats.pb.gz"
        let report = try Support.perch(["report", "-i", data, "--off-cpu", "--json", "--children", "--sort", "sym",
                                        "--folded", folded, "--flamegraph", svg, "--speedscope", speedscope, "--pprof", pprof])
        #expect(report.status == 0, "\(report.stderr)")

        let text = try Self.textReport(report.stdout)
        let outputs: [(String, [String: Double])] = [
            ("folded", try Self.folded(folded)),
            ("svg", try Self.svg(svg)),
            ("speedscope", try Self.speedscope(speedscope)),
            ("pprof", try Self.pprof(pprof)),
        ]
        for name in Self.functions { #expect((text[name] ?? 0) > 0, "text report has no \(name)") }
        // The text report itself: about 3:1:2, and at least the time the fixture sleeps (12 rounds).
        let short = try #require(text["sleep_short"])
        #expect(abs(text["sleep_long"]! / short - 3) <= 0.3, "text: sleep_long:sleep_short = \(text["sleep_long"]! / short)")
        #expect(abs(text["wait_for_pipe"]! / short - 2) <= 0.2, "text: wait_for_pipe:sleep_short = \(text["wait_for_pipe"]! / short)")
        #expect(short >= 12 * 10_000_000 * 0.95, "sleep_short blocked \(short) ns, slept 120 ms")
        // Every other format: the same nanoseconds as the text report, within 5%.
        for (format, values) in outputs {
            for name in Self.functions {
                let value = values[name] ?? 0, expected = text[name]!
                #expect(abs(value - expected) <= expected * 0.05, "\(format): \(name) \(value) ns, text report \(expected) ns")
            }
        }
        let svgText = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(svgText.contains("Off-CPU Time Flame Graph (ns)"), "the SVG's title says what it measures")
        #expect(svgText.contains(" ns, "), "the SVG's frame titles give nanoseconds")
        #expect(try String(contentsOfFile: speedscope, encoding: .utf8).contains("\"unit\": \"nanoseconds\""))
    }

    /// Inclusive weight per function from `--json --children` (`childrenWeight`).
    static func textReport(_ stdout: String) throws -> [String: Double] {
        let json = try JSONReport(stdout)
        var values: [String: Double] = [:]
        for entry in json.entries {
            if let symbol = entry["symbol"] as? String, let weight = entry["childrenWeight"] as? Double { values[symbol] = weight }
        }
        return values
    }

    /// Sum of the counts of folded lines through each function.
    static func folded(_ path: String, functions: [String] = functions) throws -> [String: Double] {
        var values: [String: Double] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let count = Double(line[line.index(after: space)...]) else { continue }
            let frames = line[..<space].split(separator: ";").map(String.init)
            for name in functions where frames.contains(name) { values[name, default: 0] += count }
        }
        return values
    }

    /// Sum over the SVG frames named after each function of the value in their titles,
    /// `name (1,234 ns, 5.6%)`.
    static func svg(_ path: String, functions: [String] = functions) throws -> [String: Double] {
        var values: [String: Double] = [:]
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for name in functions {
            var rest = Substring(text)
            while let range = rest.range(of: "<title>\(name) (") {
                let tail = rest[range.upperBound...]
                let number = tail.prefix { $0.isNumber || $0 == "," }.filter { $0 != "," }
                values[name, default: 0] += Double(String(number)) ?? 0
                rest = tail
            }
        }
        return values
    }

    /// Sum of the weights of the speedscope samples whose stack holds each function.
    static func speedscope(_ path: String, functions: [String] = functions) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        let frames = ((object?["shared"] as? [String: Any])?["frames"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "" }
        var values: [String: Double] = [:]
        for profile in object?["profiles"] as? [[String: Any]] ?? [] {
            let samples = profile["samples"] as? [[Int]] ?? [], weights = profile["weights"] as? [Double] ?? []
            for (stack, weight) in zip(samples, weights) {
                let names = Set(stack.map { frames[$0] })
                for name in functions where names.contains(name) { values[name, default: 0] += weight }
            }
        }
        return values
    }

    /// Sum of the default sample type's values of the pprof samples whose stack holds each function.
    static func pprof(_ path: String, functions: [String] = functions) throws -> [String: Double] {
        let unzipped = try Support.run("sh", ["-c", "gzip -dc '\(path)' | base64 -w0"])
        let profile = try #require(Data(base64Encoded: unzipped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let message = ProtobufMessage([UInt8](profile))
        let strings = message.fields(6).map { String(decoding: $0.bytes, as: UTF8.self) }
        let types = message.fields(1).map { ProtobufMessage($0.bytes).varint(1) }
        let defaultType = message.varint(14)
        let column = try #require(types.firstIndex(of: defaultType), "default_sample_type is one of the sample types")
        var functionName: [UInt64: String] = [:]
        for function in message.fields(5).map({ ProtobufMessage($0.bytes) }) {
            functionName[function.varint(1)] = strings[Int(function.varint(2))]
        }
        var locationNames: [UInt64: [String]] = [:]
        for location in message.fields(4).map({ ProtobufMessage($0.bytes) }) {
            locationNames[location.varint(1)] = location.fields(4).compactMap { functionName[ProtobufMessage($0.bytes).varint(1)] }
        }
        var values: [String: Double] = [:]
        for sample in message.fields(2).map({ ProtobufMessage($0.bytes) }) {
            let sampleValues = sample.packed(2)
            let names = Set(sample.packed(1).flatMap { locationNames[$0] ?? [] })
            for name in functions where names.contains(name) { values[name, default: 0] += Double(sampleValues[column]) }
        }
        return values
    }
}

/// Just enough of the protobuf wire format to read a profile.proto: varints, length-delimited
/// fields and packed varints.
struct ProtobufMessage {
    struct Field {
        var number: Int
        var value: UInt64
        var bytes: [UInt8]
    }

    let all: [Field]

    init(_ bytes: [UInt8]) {
        var fields: [Field] = []
        var i = 0
        func varint() -> UInt64 {
            var result: UInt64 = 0, shift: UInt64 = 0
            while i < bytes.count {
                let byte = bytes[i]
                i += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return result
        }
        while i < bytes.count {
            let key = varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: fields.append(Field(number: number, value: varint(), bytes: []))
            case 1: fields.append(Field(number: number, value: 0, bytes: Array(bytes[i..<min(i + 8, bytes.count)]))); i += 8
            case 2:
                let length = Int(varint())
                fields.append(Field(number: number, value: 0, bytes: Array(bytes[i..<min(i + length, bytes.count)])))
                i += length
            case 5: i += 4
            default: i = bytes.count
            }
        }
        all = fields
    }

    func fields(_ number: Int) -> [Field] { all.filter { $0.number == number } }

    func varint(_ number: Int) -> UInt64 { fields(number).last?.value ?? 0 }

    /// A repeated varint field, packed or not.
    func packed(_ number: Int) -> [UInt64] {
        fields(number).flatMap { field -> [UInt64] in
            guard !field.bytes.isEmpty else { return [field.value] }
            var values: [UInt64] = [], i = 0, result: UInt64 = 0, shift: UInt64 = 0
            while i < field.bytes.count {
                let byte = field.bytes[i]
                i += 1
                result |= UInt64(byte & 0x7f) << shift
                shift += 7
                if byte < 0x80 { values.append(result); result = 0; shift = 0 }
            }
            return values
        }
    }
}
