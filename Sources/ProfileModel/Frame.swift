/// Where a frame's code runs, for annotations (`_[k]`, `_[j]`, `_[i]`) and colouring.
public enum FrameKind: UInt8, Sendable, Hashable {
    case user
    case kernel
    case jit
    /// User code inlined into the frame outside it (from DWARF inline scopes).
    case inlined
}

/// The language a function was written in, as the symbolizer learned it: from the symbol's
/// mangling scheme, or the compile unit's `DW_AT_language` for unmangled names.
public enum SourceLanguage: UInt8, Sendable, Hashable {
    case swift
    case cpp
    case rust
    case c
    /// Unmangled code without debug information saying more.
    case unknown
}

/// A source position from DWARF line tables.
public struct SourceLocation: Hashable, Sendable {
    public var file: String
    /// 1-based; nil when the file is known but not the line.
    public var line: Int?

    public init(file: String, line: Int? = nil) {
        self.file = file
        self.line = line
    }

    /// `file:line`, or the file alone, as addr2line prints it.
    public var description: String { line.map { "\(file):\($0)" } ?? file }
}

/// One symbolized frame, interned in a ``Profile``.
public struct Frame: Hashable, Sendable {
    /// The function name (demangled), or `[unknown]`.
    public var symbol: String
    /// The shared object: a path, `[kernel.kallsyms]`, a module name, or `[unknown]`.
    public var dso: String
    public var kind: FrameKind
    public var language: SourceLanguage
    /// The address the frame was resolved from, for `--addrs`-style output of unknown symbols.
    public var address: UInt64
    /// The source position, when DWARF gave one.
    public var source: SourceLocation?

    public init(
        symbol: String, dso: String, kind: FrameKind, language: SourceLanguage = .unknown,
        address: UInt64 = 0, source: SourceLocation? = nil
    ) {
        self.symbol = symbol
        self.dso = dso
        self.kind = kind
        self.language = language
        self.address = address
        self.source = source
    }

    public static let unknownSymbol = "[unknown]"

    /// A frame for an index no profile holds: `[unknown]` in `[unknown]`.
    public static let unknown = Frame(symbol: unknownSymbol, dso: unknownSymbol, kind: .user)

    /// Whether no symbol covers the address.
    public var isUnknownSymbol: Bool { symbol == Self.unknownSymbol }

}

/// A thread seen in the recording.
public struct ThreadInfo: Hashable, Sendable {
    public var pid: Int32
    public var tid: Int32
    /// The thread's name (its comm) when these samples were taken.
    public var comm: String
    /// The CPU these samples ran on, when the profile keeps CPUs apart (`--cpu`); else nil.
    public var cpu: Int32?

    public init(pid: Int32, tid: Int32, comm: String, cpu: Int32? = nil) {
        self.pid = pid
        self.tid = tid
        self.comm = comm
        self.cpu = cpu
    }

    /// A thread for an index no profile holds: `[unknown]`, pid and tid -1.
    public static let unknown = ThreadInfo(pid: -1, tid: -1, comm: Frame.unknownSymbol)
}
