/// A tracepoint's record layout, as tracefs describes it in `events/SUBSYS/NAME/format`:
/// the fields of the raw data a sample carries with `PERF_SAMPLE_RAW`, each with its offset,
/// size and signedness. Parsed from text only (no file access), so formats stored in a
/// recording name the fields on any machine.
public struct TracepointFormat: Sendable, Hashable {
    /// One field of the record (`field:pid_t prev_pid;	offset:24;	size:4;	signed:1;`).
    public struct Field: Sendable, Hashable {
        /// The C declaration before the name (`pid_t`, `char`, `__data_loc char[]`).
        public var type: String
        public var name: String
        public var offset: Int
        public var size: Int
        public var isSigned: Bool
        /// Element count of a fixed array (`char prev_comm[16]`), nil for a scalar.
        public var arrayCount: Int?

        /// The common header every tracepoint record starts with (`common_pid`, ...).
        public var isCommon: Bool { name.hasPrefix("common_") }
        /// `__data_loc`: a u32 whose low half is the data's offset and high half its length.
        public var isDynamic: Bool { type.hasPrefix("__data_loc") }
        /// Text: a char array, or a dynamic char array.
        public var isText: Bool {
            (arrayCount != nil || isDynamic) && type.split(separator: " ").contains { $0 == "char" || $0 == "char[]" }
        }
        public var isPointer: Bool { type.contains("*") }
    }

    /// One piece of a simple `print fmt`: text, or a field printed with a printf conversion.
    public enum PrintPiece: Sendable, Hashable {
        case text(String)
        /// `%[-][0][width][length]conversion` of `REC->field`; conversion is one of d i u x X s p c.
        case field(name: String, conversion: Character, width: Int, zeroPad: Bool, leftAlign: Bool)
    }

    /// `name:` (`sched_switch`).
    public var name: String
    /// `ID:`, the `config` of a `PERF_TYPE_TRACEPOINT` event.
    public var id: UInt64
    public var fields: [Field]
    /// The `print fmt` when it is simple enough to follow (a quoted format whose arguments are
    /// all `REC->field` or `__get_str(field)`): the kernel's own text for the record, as perf script prints it. Nil
    /// when it uses helpers (`__print_flags`, arithmetic), and ``describe(_:)`` lists the fields.
    public var printFormat: [PrintPiece]?

    /// Formats longer than this are refused (the largest in a 6.x kernel is under 4 KiB).
    public static let maximumTextSize = 64 * 1024
    /// Records of more fields than this are refused.
    public static let maximumFields = 512
    /// A raw record cannot be larger than a perf sample (u16 size).
    public static let maximumRecordSize = 65_536

    public init(name: String, id: UInt64, fields: [Field]) {
        self.name = name
        self.id = id
        self.fields = fields
    }

    /// Parses the text of a tracefs `format` file.
    public init(parsing text: String) throws(TracepointFormatError) {
        guard text.utf8.count <= Self.maximumTextSize else { throw .tooLarge(text.utf8.count) }
        var name: String?
        var id: UInt64?
        var fields: [Field] = []
        var printText: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("name:") {
                name = trimmed.dropFirst(5).trimmingBlanks()
            } else if trimmed.hasPrefix("ID:") {
                guard let value = UInt64(trimmed.dropFirst(3).trimmingBlanks()) else { throw .badLine(String(line)) }
                id = value
            } else if trimmed.hasPrefix("field:") {
                guard fields.count < Self.maximumFields else { throw .tooManyFields }
                fields.append(try Self.parseField(trimmed))
            } else if trimmed.hasPrefix("print fmt:") {
                printText = String(trimmed.dropFirst("print fmt:".count))
                break
            }
        }
        guard let name, !name.isEmpty else { throw .missing("name") }
        guard let id else { throw .missing("ID") }
        self.init(name: name, id: id, fields: fields)
        if let printText { printFormat = Self.parsePrintFormat(printText, fields: fields) }
    }

    /// `"FORMAT", REC->a, REC->b` → pieces; nil for anything else.
    static func parsePrintFormat(_ text: String, fields: [Field]) -> [PrintPiece]? {
        var rest = Substring(text).drop { $0 == " " || $0 == "\t" }
        guard rest.first == "\"" else { return nil }
        rest = rest.dropFirst()
        var format = ""
        var escaped = false
        var closed = false
        while let character = rest.first {
            rest = rest.dropFirst()
            if escaped {
                switch character {
                case "n": format.append("\n")
                case "t": format.append("\t")
                default: format.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                closed = true
                break
            } else {
                format.append(character)
            }
        }
        guard closed else { return nil }
        var arguments: [String] = []
        for argument in rest.split(separator: ",", omittingEmptySubsequences: false).dropFirst() {
            // `REC->field`, or `__get_str(field)` for a dynamic string.
            let trimmed = argument.trimmingBlanks()
            let name: String
            if trimmed.hasPrefix("REC->") {
                name = String(trimmed.dropFirst(5))
            } else if trimmed.hasPrefix("__get_str("), trimmed.hasSuffix(")") {
                name = String(trimmed.dropFirst(10).dropLast())
            } else {
                return nil
            }
            guard fields.contains(where: { $0.name == name }) else { return nil }
            arguments.append(name)
        }
        guard rest.split(separator: ",", omittingEmptySubsequences: false).first.map({ $0.trimmingBlanks().isEmpty }) ?? true else { return nil }
        var pieces: [PrintPiece] = []
        var literal = ""
        var characters = Substring(format)
        var next = arguments.makeIterator()
        while let character = characters.first {
            characters = characters.dropFirst()
            guard character == "%" else { literal.append(character); continue }
            if characters.first == "%" { literal.append("%"); characters = characters.dropFirst(); continue }
            var leftAlign = false, zeroPad = false
            while let flag = characters.first, flag == "-" || flag == "0" {
                if flag == "-" { leftAlign = true } else { zeroPad = true }
                characters = characters.dropFirst()
            }
            let digits = characters.prefix { $0.isNumber }
            characters = characters.dropFirst(digits.count)
            characters = characters.drop { $0 == "l" || $0 == "h" || $0 == "z" }
            guard let conversion = characters.first, "diuxXspc".contains(conversion), let argument = next.next() else { return nil }
            characters = characters.dropFirst()
            if !literal.isEmpty { pieces.append(.text(literal)); literal = "" }
            pieces.append(.field(name: argument, conversion: conversion, width: Int(digits) ?? 0, zeroPad: zeroPad, leftAlign: leftAlign))
        }
        guard next.next() == nil else { return nil }
        if !literal.isEmpty { pieces.append(.text(literal)) }
        return pieces
    }

    /// `field:DECL NAME[N];	offset:O;	size:S;	signed:B;`
    private static func parseField(_ line: Substring) throws(TracepointFormatError) -> Field {
        var declaration: Substring?
        var values: [String: Int] = [:]
        for part in line.split(separator: ";") {
            let item = part.trimmingBlanks()
            guard let colon = item.firstIndex(of: ":") else { continue }
            let key = item[..<colon], value = item[item.index(after: colon)...]
            if key == "field" {
                declaration = value
            } else if let number = Int(value), number >= 0, number <= maximumRecordSize {
                values[String(key)] = number
            } else if ["offset", "size", "signed"].contains(key) {
                throw .badLine(String(line))
            }
        }
        guard let declaration, let offset = values["offset"], let size = values["size"] else { throw .badLine(String(line)) }
        guard offset + size <= maximumRecordSize else { throw .badLine(String(line)) }
        // The name is the last word of the declaration, less an array suffix.
        var words = declaration.split(separator: " ")
        guard var last = words.popLast() else { throw .badLine(String(line)) }
        var arrayCount: Int?
        if let open = last.firstIndex(of: "["), last.last == "]" {
            let count = last[last.index(after: open)..<last.index(before: last.endIndex)]
            arrayCount = Int(count) ?? 0
            last = last[..<open]
        }
        guard !last.isEmpty else { throw .badLine(String(line)) }
        return Field(type: words.joined(separator: " "), name: String(last), offset: offset, size: size,
                     isSigned: values["signed"] == 1, arrayCount: arrayCount)
    }

    /// The record's own fields (the common header left out).
    public var eventFields: [Field] { fields.filter { !$0.isCommon } }

    /// The value of an integer field in a raw record, sign-extended when the field is signed;
    /// nil when the field is absent, not an integer of 1, 2, 4 or 8 bytes, or outside the record.
    public func integer(_ name: String, in raw: UnsafeRawBufferPointer) -> Int64? {
        guard let field = fields.first(where: { $0.name == name }), field.arrayCount == nil, !field.isDynamic else { return nil }
        return Self.integer(field, in: raw)
    }

    /// The text of a char-array field in a raw record.
    public func text(_ name: String, in raw: UnsafeRawBufferPointer) -> String? {
        guard let field = fields.first(where: { $0.name == name }), field.isText else { return nil }
        return Self.text(field, in: raw)
    }

    /// The record as text: by its `print fmt` where that is simple (`comm=sh pid=12 prio=120
    /// target_cpu=001`, as perf script prints it), else its fields as `name=value` pairs
    /// (`prev_comm=sh prev_pid=123 prev_prio=120 prev_state=1 next_comm=...`). Bytes outside
    /// the record print as `?`.
    public func describe(_ raw: UnsafeRawBufferPointer) -> String {
        if let printFormat, let text = render(printFormat, raw) { return text }
        return listFields(raw)
    }

    private func render(_ pieces: [PrintPiece], _ raw: UnsafeRawBufferPointer) -> String? {
        var text = ""
        for piece in pieces {
            switch piece {
            case .text(let literal):
                text += literal
            case .field(let name, let conversion, let width, let zeroPad, let leftAlign):
                guard let field = fields.first(where: { $0.name == name }) else { return nil }
                var value: String
                if conversion == "s" {
                    guard field.isText, let string = Self.text(field, in: raw) else { return nil }
                    value = string
                } else {
                    guard field.arrayCount == nil, !field.isDynamic, let number = Self.integer(field, in: raw) else { return nil }
                    let mask: UInt64 = field.size >= 8 ? .max : (1 << UInt64(field.size * 8)) - 1
                    let unsigned = UInt64(bitPattern: number) & mask
                    switch conversion {
                    case "d", "i": value = field.isSigned ? "\(number)" : "\(unsigned)"
                    case "u": value = "\(unsigned)"
                    case "x": value = String(unsigned, radix: 16)
                    case "X": value = String(unsigned, radix: 16).uppercased()
                    case "p": value = "0x" + String(unsigned, radix: 16)
                    case "c": value = String(UnicodeScalar(UInt8(truncatingIfNeeded: unsigned)))
                    default: return nil
                    }
                }
                if value.count < width {
                    let padding = String(repeating: zeroPad && !leftAlign && conversion != "s" ? "0" : " ", count: width - value.count)
                    if leftAlign {
                        value += padding
                    } else if zeroPad, value.hasPrefix("-") {
                        value = "-" + padding + value.dropFirst()
                    } else {
                        value = padding + value
                    }
                }
                text += value
            }
        }
        return text
    }

    /// The record's own fields as `name=value` pairs.
    public func listFields(_ raw: UnsafeRawBufferPointer) -> String {
        eventFields.map { field in
            let value: String
            if field.isText {
                value = Self.text(field, in: raw) ?? "?"
            } else if field.isDynamic {
                value = Self.dynamicBytes(field, in: raw).map { Self.hex($0) } ?? "?"
            } else if field.arrayCount != nil || ![1, 2, 4, 8].contains(field.size) {
                value = Self.bytes(field.offset, field.size, in: raw).map { Self.hex($0) } ?? "?"
            } else if let number = Self.integer(field, in: raw) {
                value = field.isPointer ? "0x" + String(UInt64(bitPattern: number), radix: 16) : "\(number)"
            } else {
                value = "?"
            }
            return "\(field.name)=\(value)"
        }.joined(separator: " ")
    }

    private static func bytes(_ offset: Int, _ size: Int, in raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard offset >= 0, size >= 0, offset <= raw.count, size <= raw.count - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: raw[offset..<offset + size])
    }

    private static func integer(_ field: Field, in raw: UnsafeRawBufferPointer) -> Int64? {
        guard let bytes = bytes(field.offset, field.size, in: raw) else { return nil }
        switch (field.size, field.isSigned) {
        case (1, true): return Int64(Int8(bitPattern: bytes[0]))
        case (1, false): return Int64(bytes[0])
        case (2, true): return Int64(Int16(littleEndian: bytes.loadUnaligned(as: Int16.self)))
        case (2, false): return Int64(UInt16(littleEndian: bytes.loadUnaligned(as: UInt16.self)))
        case (4, true): return Int64(Int32(littleEndian: bytes.loadUnaligned(as: Int32.self)))
        case (4, false): return Int64(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)))
        case (8, _): return Int64(littleEndian: bytes.loadUnaligned(as: Int64.self))
        default: return nil
        }
    }

    private static func dynamicBytes(_ field: Field, in raw: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard field.size == 4, let location = bytes(field.offset, 4, in: raw) else { return nil }
        let word = UInt32(littleEndian: location.loadUnaligned(as: UInt32.self))
        return bytes(Int(word & 0xffff), Int(word >> 16), in: raw)
    }

    private static func text(_ field: Field, in raw: UnsafeRawBufferPointer) -> String? {
        let region = field.isDynamic ? dynamicBytes(field, in: raw) : bytes(field.offset, field.size, in: raw)
        guard let region else { return nil }
        return String(decoding: region.prefix { $0 != 0 }, as: UTF8.self)
    }

    private static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.isEmpty ? "[]" : bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}

/// Why a tracefs format text could not be read.
public enum TracepointFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooLarge(Int)
    case tooManyFields
    case missing(String)
    case badLine(String)

    public var description: String {
        switch self {
        case .tooLarge(let size): "tracepoint format of \(size) bytes is larger than \(TracepointFormat.maximumTextSize)"
        case .tooManyFields: "tracepoint format has more than \(TracepointFormat.maximumFields) fields"
        case .missing(let key): "tracepoint format has no '\(key):' line"
        case .badLine(let line): "tracepoint format line not understood: '\(line.prefix(200))'"
        }
    }
}

extension Substring {
    fileprivate func trimmingBlanks() -> String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }.reversed())
    }
}
