import ProfileModel
import Glibc

/// One source-level frame for an address: a function, and where known its source position.
public struct SymbolizedFrame: Sendable, Hashable {
    /// The (demangled) function name.
    public var function: String
    /// The language, from the symbol's mangling scheme.
    public var language: SourceLanguage
    /// The source file, when debug information gave one.
    public var sourceFile: String?
    /// The 1-based source line, when known.
    public var line: Int?
    /// The 1-based source column, when known.
    public var column: Int?
    /// Whether this frame was inlined into the frame that follows it.
    public var isInlined: Bool

    /// Creates a frame.
    public init(
        function: String, language: SourceLanguage = .unknown, sourceFile: String? = nil, line: Int? = nil,
        column: Int? = nil, isInlined: Bool = false
    ) {
        self.function = function
        self.language = language
        self.sourceFile = sourceFile
        self.line = line
        self.column = column
        self.isInlined = isInlined
    }
}

/// What the report pipeline calls to name addresses. Implementations may add DWARF inline
/// frames and source lines; `ELFSymbolizer` uses ELF symbol tables only.
public protocol AddressSymbolizer: AnyObject {
    /// Frames for a file offset inside the DSO at `path`, innermost (inlined) first; empty
    /// when no symbol covers it.
    func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame]
    /// Frames for many file offsets inside the DSO at `path`, one array per offset in the
    /// order given, each as `symbolize(path:fileOffset:)` gives it; an implementation may
    /// look them up faster together than one by one.
    func symbolize(path: String, fileOffsets: [UInt64]) -> [[SymbolizedFrame]]
    /// Frames for a kernel address.
    func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)?
    /// A hint that addresses in the DSO at `path` will be asked for: an implementation may start
    /// loading it in the background now.
    func prepare(path: String)
    /// A hint that kernel addresses will be asked for.
    func prepareKernel()
    /// The build id the recording saw for `path`: if the file there now has another, its
    /// addresses are not symbolized and ``buildIDMismatches`` says so.
    func expect(buildID: [UInt8], forPath path: String)
    /// Paths whose file changed since the recording, as found while symbolizing.
    var buildIDMismatches: [BuildIDMismatch] { get }
    /// The kernel symbols the symbolizer names kernel addresses with (loaded on first use),
    /// or `nil` when it has none.
    var kernelSymbols: KernelSymbols? { get }
}

extension AddressSymbolizer {
    public func symbolize(path: String, fileOffsets: [UInt64]) -> [[SymbolizedFrame]] {
        fileOffsets.map { symbolize(path: path, fileOffset: $0) }
    }

    public func prepare(path: String) {}
    public func prepareKernel() {}
    public var kernelSymbols: KernelSymbols? { nil }
}

/// Names user addresses from ELF symbol tables (`.symtab`, `.dynsym`) and kernel addresses
/// from kallsyms, with demangling.
///
/// Caches one `ELFImage` + `SymbolTable` per path, each path's results per file offset,
/// demangled names, and the kernel symbols (loaded on first kernel lookup). Files that cannot
/// be used are remembered in `failures` and not retried. Not thread-safe: confine an instance
/// to one thread or actor.
public final class ELFSymbolizer: AddressSymbolizer {
    private final class Module {
        let image: ELFImage
        let table: SymbolTable
        var frames: [UInt64: [SymbolizedFrame]] = [:]

        init(image: ELFImage) {
            self.image = image
            self.table = SymbolTable(image: image)
        }
    }

    /// How names are printed.
    public let names: Demangler.NameStyle
    /// Where kernel symbols are read from.
    public let kallsymsPath: String

    /// Paths that could not be opened as ELF, with the reason. Filled as paths are first seen.
    public private(set) var failures: [String: SymbolicationError] = [:]
    /// Why kernel symbols are unavailable, when loading them failed.
    public private(set) var kernelFailure: SymbolicationError?

    private var modules: [String: Module] = [:]
    private var buildIDs = BuildIDExpectations()
    /// Modules whose file passed the build-id check, by path (one lookup per address, as before).
    private var checked: [String: Module] = [:]
    private var demangled: [String: String] = [:]
    private var kernel: KernelSymbols?
    private var kernelLoaded = false
    private var kernelLoad: BackgroundLoad<Result<KernelSymbols, SymbolicationError>>?
    private var kernelFrames: [UInt64: (frame: SymbolizedFrame, module: String?)?] = [:]

    /// - Parameters:
    ///   - names: how names are printed (demangled and simplified by default).
    ///   - kallsymsPath: the kernel symbol file, read on first `symbolizeKernel` call.
    public init(names: Demangler.NameStyle = .simplified, kallsymsPath: String = "/proc/kallsyms") {
        self.names = names
        self.kallsymsPath = kallsymsPath
    }

    /// The opened image for `path`, or `nil` if it cannot be opened (see `failures`).
    public func image(forPath path: String) -> ELFImage? {
        module(for: path)?.image
    }

    /// The symbol table for `path`, or `nil` if the file cannot be opened.
    public func symbolTable(forPath path: String) -> SymbolTable? {
        module(for: path)?.table
    }

    /// Frames for `fileOffset` in the file at `path`: at most one frame (ELF symbols have no
    /// inline information); empty when the file cannot be read or no symbol covers it.
    public func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame] {
        guard let module = checkedModule(for: path) else { return [] }
        if let cached = module.frames[fileOffset] { return cached }
        var frames: [SymbolizedFrame] = []
        if let vaddr = module.image.virtualAddress(forFileOffset: fileOffset),
           let symbol = module.table.lookup(vaddr)
        {
            frames = [SymbolizedFrame(function: demangle(symbol.name), language: Demangler.language(ofSymbol: symbol.name))]
        }
        module.frames[fileOffset] = frames
        return frames
    }

    public func expect(buildID: [UInt8], forPath path: String) {
        buildIDs.expect(buildID, forPath: path)
        checked[path] = nil
    }

    public var buildIDMismatches: [BuildIDMismatch] { buildIDs.mismatches }

    /// The kernel symbol containing `address` and its module (`nil` for the core kernel);
    /// `nil` when kallsyms is unreadable, hides addresses, or has no covering symbol.
    public func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)? {
        if let cached = kernelFrames[address] { return cached }
        var result: (frame: SymbolizedFrame, module: String?)? = nil
        if let symbol = kernelSymbols?.lookup(address) {
            result = (SymbolizedFrame(function: demangle(symbol.name), language: Demangler.language(ofSymbol: symbol.name)), symbol.module)
        }
        kernelFrames[address] = .some(result)
        return result
    }

    /// Starts reading the kernel symbols on a background thread.
    public func prepareKernel() {
        guard !kernelLoaded, kernelLoad == nil else { return }
        let path = kallsymsPath
        kernelLoad = BackgroundLoad { Result { () throws(SymbolicationError) in try KernelSymbols(path: path) } }
    }

    /// The loaded kernel symbols (loading them if needed), or `nil` when unreadable.
    public var kernelSymbols: KernelSymbols? {
        if !kernelLoaded {
            kernelLoaded = true
            let loaded = kernelLoad?.value ?? Result { () throws(SymbolicationError) in try KernelSymbols(path: kallsymsPath) }
            kernelLoad = nil
            switch loaded {
            case .success(let symbols): kernel = symbols
            case .failure(let error): kernelFailure = error
            }
        }
        return kernel
    }

    /// Compares the build id of the file at `path` with `expected` (e.g. from a perf.data
    /// BUILD_ID feature or the file at record time). `nil` when the file cannot be opened or
    /// has no build id, so the caller cannot tell.
    public func checkBuildID(path: String, expected: [UInt8]) -> Bool? {
        guard let actual = module(for: path)?.image.buildID else { return nil }
        return actual == expected
    }

    /// The module for `path` if its file is the one the recording saw (see `expect`).
    private func checkedModule(for path: String) -> Module? {
        if let module = checked[path] { return module }
        guard let module = module(for: path), buildIDs.allows(path: path, onDisk: module.image.buildID) else { return nil }
        checked[path] = module
        return module
    }

    private func module(for path: String) -> Module? {
        if let module = modules[path] { return module }
        if failures[path] != nil { return nil }
        do {
            let module = Module(image: try ELFImage(path: path))
            modules[path] = module
            return module
        } catch {
            failures[path] = error
            return nil
        }
    }

    private func demangle(_ name: String) -> String {
        if let known = demangled[name] { return known }
        let result = Demangler.name(name, style: names)
        demangled[name] = result
        return result
    }
}
