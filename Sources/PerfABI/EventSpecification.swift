/// Where an event named on the command line comes from, before the kernel is asked anything.
public enum EventSource: Hashable, Sendable, CustomStringConvertible {
    /// A hardware or software event Perch knows by name (`cycles`, `cpu-clock`, ...).
    case known(EventKind)
    /// A raw PMU event, `rNNNN` in hex as perf spells it.
    case raw(config: UInt64)
    /// A tracepoint, `SUBSYS:NAME`; its id comes from tracefs when the event is opened.
    case tracepoint(subsystem: String, name: String)

    public var description: String {
        switch self {
        case .known(let kind): kind.description
        case .raw(let config): "r\(String(config, radix: 16))"
        case .tracepoint(let subsystem, let name): "\(subsystem):\(name)"
        }
    }
}

/// perf's event modifiers: the letters after the last `:` (`cycles:u`, `cpu-clock:k`, `cycles:ppp`).
public struct EventModifiers: Hashable, Sendable {
    /// `u`: count in user space. With none of `u`, `k`, `h`, everything is counted.
    public var user = false
    /// `k`: count in the kernel.
    public var kernel = false
    /// `h`: count in the hypervisor.
    public var hypervisor = false
    /// `p`, `pp`, `ppp`: requested skid constraint (`precise_ip` 1...3).
    public var precision: UInt8 = 0
    /// `P`: the highest precision the machine offers (found by trying, highest first).
    public var maximumPrecision = false

    public init() {}

    /// True when no letter was given.
    public var isEmpty: Bool { self == EventModifiers() }

    /// Whether the letters restrict the privilege levels counted (any of `u`, `k`, `h`).
    public var restrictsLevels: Bool { user || kernel || hypervisor }

    /// The attribute's exclude bits for these modifiers, as perf sets them: naming any level
    /// excludes the levels not named.
    public var excludedLevels: AttributeFlags {
        guard restrictsLevels else { return [] }
        var flags: AttributeFlags = []
        if !user { flags.insert(.excludeUser) }
        if !kernel { flags.insert(.excludeKernel) }
        if !hypervisor { flags.insert(.excludeHypervisor) }
        return flags
    }

    /// Parses the modifier letters; nil (with the offending letter) when one is not perf's.
    static func parse(_ letters: Substring) -> Result<EventModifiers, EventSpecificationError> {
        var modifiers = EventModifiers()
        for letter in letters {
            switch letter {
            case "u": modifiers.user = true
            case "k": modifiers.kernel = true
            case "h": modifiers.hypervisor = true
            case "p":
                guard modifiers.precision < 3 else { return .failure(.tooPrecise(String(letters))) }
                modifiers.precision += 1
            case "P": modifiers.maximumPrecision = true
            default: return .failure(.unknownModifier(letter, in: String(letters)))
            }
        }
        return .success(modifiers)
    }

    /// The letters, in perf's order, for naming the event back (`cycles:u`).
    public var letters: String {
        var text = ""
        if user { text += "u" }
        if kernel { text += "k" }
        if hypervisor { text += "h" }
        text += String(repeating: "p", count: Int(precision))
        if maximumPrecision { text += "P" }
        return text
    }
}

/// One event as written after `-e`: a source and its modifiers.
public struct EventSpecification: Hashable, Sendable, CustomStringConvertible {
    public var source: EventSource
    public var modifiers: EventModifiers
    /// The text as the user typed it (`cs:k`), which perf prints back; nil when built in code.
    /// Not part of the event's identity: `cs` and `context-switches` are one event.
    public var spelling: String?

    public init(source: EventSource, modifiers: EventModifiers = EventModifiers()) {
        self.source = source
        self.modifiers = modifiers
    }

    public static func == (lhs: EventSpecification, rhs: EventSpecification) -> Bool {
        lhs.source == rhs.source && lhs.modifiers == rhs.modifiers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(modifiers)
    }

    /// The name perf prints for the event: as typed, else ``description``.
    public var typedName: String { spelling ?? description }

    /// The kind for known and raw events; nil for a tracepoint, whose config is its tracefs id.
    public var kind: EventKind? {
        switch source {
        case .known(let kind): kind
        case .raw(let config): .other(type: EventType.raw.rawValue, config: config)
        case .tracepoint: nil
        }
    }

    /// The event as perf names it back: `cpu-clock:u`, `sched:sched_switch`.
    public var description: String {
        modifiers.isEmpty ? source.description : "\(source):\(modifiers.letters)"
    }

    /// Parses one event: `NAME[:MODIFIERS]`, `rHEX[:MODIFIERS]` or `SUBSYS:NAME[:MODIFIERS]`.
    ///
    /// A first part that is a known event name or a raw event takes the rest as modifiers; any
    /// other first part is a tracepoint subsystem, so `sched:sched_switch` is a tracepoint and
    /// `cpu-clock:k` an event with a modifier.
    public init(parsing text: String) throws(EventSpecificationError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else { throw .empty }
        let head: EventSource
        let rest: ArraySlice<Substring>
        if let kind = EventKind(name: String(first)) {
            head = .known(kind)
            rest = parts.dropFirst()
        } else if let config = Self.rawConfig(first) {
            head = .raw(config: config)
            rest = parts.dropFirst()
        } else if parts.count >= 2 {
            let subsystem = String(first), name = String(parts[1])
            guard Self.isTracepointWord(subsystem), Self.isTracepointWord(name) else {
                throw .unknownEvent(text)
            }
            head = .tracepoint(subsystem: subsystem, name: name)
            rest = parts.dropFirst(2)
        } else {
            throw .unknownEvent(text)
        }
        guard rest.count <= 1 else { throw .unknownEvent(text) }
        var modifiers = EventModifiers()
        if let letters = rest.first {
            guard !letters.isEmpty else { throw .emptyModifiers(text) }
            switch EventModifiers.parse(letters) {
            case .success(let parsed): modifiers = parsed
            case .failure(let error): throw error
            }
        }
        self.init(source: head, modifiers: modifiers)
        spelling = text
    }

    /// Parses a `-e` list: events separated by commas, `{a,b}` braces marking a group (a list of
    /// one-event groups when there are no braces), and modifiers after a closing brace applying to
    /// every member that has none of its own.
    public static func parseList(_ text: String) throws(EventSpecificationError) -> [[EventSpecification]] {
        var groups: [[EventSpecification]] = []
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == "{" {
                guard let close = text[index...].firstIndex(of: "}") else { throw .unbalancedBraces(text) }
                let inner = text[text.index(after: index)..<close]
                guard !inner.contains("{") else { throw .unbalancedBraces(text) }
                var after = text.index(after: close)
                var groupModifiers = EventModifiers()
                if after < text.endIndex, text[after] == ":" {
                    let end = text[after...].firstIndex(of: ",") ?? text.endIndex
                    let letters = text[text.index(after: after)..<end]
                    guard !letters.isEmpty else { throw .emptyModifiers(text) }
                    switch EventModifiers.parse(letters) {
                    case .success(let parsed): groupModifiers = parsed
                    case .failure(let error): throw error
                    }
                    after = end
                }
                var members: [EventSpecification] = []
                for word in inner.split(separator: ",", omittingEmptySubsequences: false) {
                    var member = try EventSpecification(parsing: String(word))
                    // perf names a member as typed inside the braces, without the group's letters.
                    if member.modifiers.isEmpty { member.modifiers = groupModifiers }
                    members.append(member)
                }
                groups.append(members)
                index = after
            } else {
                let end = text[index...].firstIndex(of: ",") ?? text.endIndex
                let word = text[index..<end]
                guard !word.contains("}") else { throw .unbalancedBraces(text) }
                groups.append([try EventSpecification(parsing: String(word))])
                index = end
            }
            if index < text.endIndex {
                guard text[index] == "," else { throw .unbalancedBraces(text) }
                index = text.index(after: index)
                guard index < text.endIndex else { throw .empty }
            }
        }
        guard !groups.isEmpty else { throw .empty }
        return groups
    }

    private static func rawConfig(_ word: Substring) -> UInt64? {
        guard word.count >= 2, word.first == "r" else { return nil }
        return UInt64(word.dropFirst(), radix: 16)
    }

    /// tracefs names: letters, digits and underscores (no path separators, no dots).
    private static func isTracepointWord(_ word: String) -> Bool {
        !word.isEmpty && word.count <= 256 && word.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_"
        }
    }
}

/// Why an event list could not be read.
public enum EventSpecificationError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case unknownEvent(String)
    case unknownModifier(Character, in: String)
    case tooPrecise(String)
    case emptyModifiers(String)
    case unbalancedBraces(String)

    public var description: String {
        switch self {
        case .empty:
            "an event name is missing"
        case .unknownEvent(let text):
            "unknown event '\(text)'; known: \(EventKind.knownNames.joined(separator: ", ")), rHEX (raw), SUBSYS:NAME (tracepoint)"
        case .unknownModifier(let letter, let letters):
            "unknown event modifier '\(letter)' in ':\(letters)'; perf's modifiers Perch reads are u, k, h, p, pp, ppp and P"
        case .tooPrecise(let letters):
            "':\(letters)' asks for more than ppp (precise_ip is at most 3)"
        case .emptyModifiers(let text):
            "'\(text)' ends in ':' with no modifier"
        case .unbalancedBraces(let text):
            "event groups are written {a,b}, separated by commas: '\(text)'"
        }
    }
}
