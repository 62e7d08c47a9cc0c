import CElfutils
import Dispatch
import ProfileModel
import Glibc

/// Names user addresses with DWARF — inlined frames, file:line:column — falling back to ELF
/// symbol tables, and kernel addresses from kallsyms (through an `ELFSymbolizer`).
///
/// For each path it opens the image and, when the image lacks DWARF or `.symtab`, its separate
/// debug file (`DebugFileLocator`: build-id paths, `.gnu_debuglink`, `debugDirectories`,
/// debuginfod only with `DEBUGINFOD_URLS`). DWARF comes from whichever file has it; symbols
/// from both. DWARF is read natively (`DWARFReader`, with `LibdwDWARF` for what it declines);
/// compressed debug sections are expanded through libelf.
///
/// Frames follow llvm-symbolizer: the innermost frame has the line table's position at the
/// address, each caller the call site (`DW_AT_call_file/line/column`) of the frame inside it;
/// function names are DIE linkage names (demangled) or plain names, and the outermost frame
/// takes the ELF symbol's name when a symbol covers the address (it tells `foo.cold` and
/// `foo.constprop.0` from `foo`).
///
/// Caches: one module per path (shared between paths with the same build id), frames per
/// (module, address), demangled names per symbol and per DIE. Not thread-safe (libdw is not): confine an instance to
/// one thread or actor. `prepare(path:)` loads modules on a background thread, each handed over
/// whole before this instance touches it. A batch (`symbolize(path:virtualAddresses:)`,
/// `fileOffsets:`) uses every CPU inside the call and returns with nothing left running.
public final class DWARFSymbolizer: AddressSymbolizer {
    private final class Module {
        let image: ELFImage
        let debugImage: ELFImage?
        let dwarf: DWARFIndex?
        let table: SymbolTable
        var frames: [UInt64: [SymbolizedFrame]] = [:]
        /// Demangled names by symbol index and by DIE offset.
        var symbolNames: [SymbolName?]
        var dieNames: [UInt64: SymbolName] = [:]
        /// The last profile (``DWARFSymbolizer/beginNextProfile(keepingUnused:)``) that used it.
        var lastProfile = 0

        init(image: ELFImage, debugImage: ELFImage?, dwarf: DWARFIndex?, table: SymbolTable) {
            self.image = image
            self.debugImage = debugImage
            self.dwarf = dwarf
            self.table = table
            self.symbolNames = Array(repeating: nil, count: table.count)
        }
    }

    /// How names are printed.
    public let names: Demangler.NameStyle
    /// Where debug files are looked for.
    public let locator: DebugFileLocator

    /// Paths that could not be opened as ELF, with the reason.
    public private(set) var failures: [String: SymbolicationError] = [:]
    /// Notes worth showing a user: debug files rejected because they belong to another build.
    public private(set) var notes: [String] = []

    private let kallsymsPath: String
    private var kernel: ELFSymbolizer
    /// Profiles begun since this instance was made (``beginNextProfile(keepingUnused:)``).
    private var profile = 0
    private var modules: [String: Module] = [:]
    private var buildIDs = BuildIDExpectations()
    /// Modules whose file passed the build-id check, by path: what `symbolize(path:fileOffset:)`
    /// looks up, so the check costs nothing per address.
    private var checked: [String: Module] = [:]
    private var modulesByBuildID: [[UInt8]: Module] = [:]
    /// Modules being loaded in the background since `prepare(path:)`.
    private var loads: [String: BackgroundLoad<Loaded>] = [:]

    /// - Parameters:
    ///   - names: how names are printed (demangled, Swift names simplified, by default).
    ///   - debugDirectories: extra roots for debug files, searched before `/usr/lib/debug`.
    ///   - allowDebuginfod: ask debuginfod for missing debug files; it is still only asked
    ///     when `DEBUGINFOD_URLS` is set.
    ///   - kallsymsPath: the kernel symbol file, read on first `symbolizeKernel` call.
    public init(
        names: Demangler.NameStyle = .simplified, debugDirectories: [String] = [], allowDebuginfod: Bool = true,
        kallsymsPath: String = "/proc/kallsyms"
    ) {
        self.names = names
        self.locator = DebugFileLocator(debugDirectories: debugDirectories, allowDebuginfod: allowDebuginfod)
        self.kallsymsPath = kallsymsPath
        self.kernel = ELFSymbolizer(names: names, kallsymsPath: kallsymsPath)
    }

    /// Readies this instance for another profile of the same machine (a server that records the
    /// same processes again and again), keeping what is still true of the files it has read:
    ///
    /// - a module stays, with its index and every name and frame found in it, while its file
    ///   (and its debug file) on disk is the one it opened — same device, inode, size and
    ///   modification time — and some profile among the last `keepingUnused` used it;
    /// - what belonged to the last profile is forgotten: build ids it expected and their
    ///   verdicts, paths that failed to open, notes, and the kernel's symbols (modules come and go).
    public func beginNextProfile(keepingUnused: Int = 4) {
        for load in loads.values { _ = load.value }  // nothing is left running on the lane
        loads = [:]
        profile += 1
        failures = [:]
        notes = []
        buildIDs = BuildIDExpectations()
        checked = [:]
        kernel = ELFSymbolizer(names: names, kallsymsPath: kallsymsPath)
        let current = profile
        modules = modules.filter { path, module in
            current - module.lastProfile <= keepingUnused
                && FileIdentity(path: path) == module.image.openedIdentity
                && module.debugImage.map { FileIdentity(path: $0.path) == $0.openedIdentity } ?? true
        }
        modulesByBuildID = [:]
        for module in modules.values {
            if let id = module.image.buildID { modulesByBuildID[id] = module }
        }
    }

    // MARK: - AddressSymbolizer

    /// Frames for `fileOffset` in the file at `path`, innermost (inlined) first, the real
    /// function last; empty when the file cannot be read or nothing covers the offset.
    public func symbolize(path: String, fileOffset: UInt64) -> [SymbolizedFrame] {
        guard let module = checkedModule(for: path),
              let address = module.image.virtualAddress(forFileOffset: fileOffset)
        else { return [] }
        return frames(module, address)
    }

    /// Frames for many file offsets in the file at `path`, one array per offset in the order
    /// given, each as `symbolize(path:fileOffset:)` gives it, found as
    /// `symbolize(path:virtualAddresses:)` finds them.
    public func symbolize(path: String, fileOffsets: [UInt64]) -> [[SymbolizedFrame]] {
        guard let module = checkedModule(for: path) else { return Array(repeating: [], count: fileOffsets.count) }
        let addresses = fileOffsets.map { module.image.virtualAddress(forFileOffset: $0) }
        let found = frames(module, addresses.compactMap { $0 })
        var next = found.makeIterator()
        return addresses.map { $0 == nil ? [] : next.next() ?? [] }
    }

    public func symbolizeKernel(address: UInt64) -> (frame: SymbolizedFrame, module: String?)? {
        kernel.symbolizeKernel(address: address)
    }

    /// Starts loading the module at `path` (image, debug file, DWARF index, symbols) on a
    /// background thread; `symbolize` collects it.
    public func prepare(path: String) {
        guard modules[path] == nil, failures[path] == nil, loads[path] == nil else { return }
        let locator = self.locator
        loads[path] = BackgroundLoad { DWARFSymbolizer.load(path: path, locator: locator) }
    }

    /// Starts reading the kernel symbols on a background thread.
    public func prepareKernel() {
        kernel.prepareKernel()
    }

    public func expect(buildID: [UInt8], forPath path: String) {
        buildIDs.expect(buildID, forPath: path)
        checked[path] = nil
    }

    public var buildIDMismatches: [BuildIDMismatch] { buildIDs.mismatches }

    /// Builds ahead, on two threads, what symbolizing these link-time addresses in `path` needs:
    /// the inline scopes and line tables of every compile unit they fall in. For many addresses
    /// at once.
    public func prepare(path: String, virtualAddresses: [UInt64]) {
        module(for: path)?.dwarf?.preload(for: virtualAddresses)
    }

    // MARK: - More

    /// Frames for a link-time virtual address in the file at `path` (what llvm-symbolizer
    /// takes with `--obj`), innermost first; empty when nothing covers it.
    public func symbolize(path: String, virtualAddress: UInt64) -> [SymbolizedFrame] {
        guard let module = module(for: path) else { return [] }
        return frames(module, virtualAddress)
    }

    /// Frames for many link-time virtual addresses in `path`, one array per address in the
    /// order given, each as `symbolize(path:virtualAddress:)` gives it. Faster for many
    /// addresses: two threads share out the compile units they fall in, each reading its units'
    /// DWARF and finding their frames; then the names they use are demangled and the frames put
    /// together, split over the CPUs.
    public func symbolize(path: String, virtualAddresses: [UInt64]) -> [[SymbolizedFrame]] {
        guard let module = module(for: path) else { return Array(repeating: [], count: virtualAddresses.count) }
        return frames(module, virtualAddresses)
    }

    /// The debug file used for `path`, when one was found.
    public func debugFilePath(forPath path: String) -> String? {
        module(for: path)?.debugImage?.path
    }

    /// Whether DWARF is available for `path` (in the file itself or its debug file).
    public func hasDebugInfo(forPath path: String) -> Bool {
        module(for: path)?.dwarf != nil
    }

    /// The opened image for `path`, or `nil` if it cannot be opened (see `failures`).
    public func image(forPath path: String) -> ELFImage? {
        module(for: path)?.image
    }

    /// The kernel symbols kernel addresses are named with (read from kallsyms on first use).
    public var kernelSymbols: KernelSymbols? { kernel.kernelSymbols }

    /// Why kernel symbols are unavailable, when loading them failed.
    public var kernelFailure: SymbolicationError? {
        _ = kernel.kernelSymbols
        return kernel.kernelFailure
    }

    /// Compares the build id of the file at `path` with `expected`; `nil` when the file cannot
    /// be opened or has no build id.
    public func checkBuildID(path: String, expected: [UInt8]) -> Bool? {
        guard let actual = module(for: path)?.image.buildID else { return nil }
        return actual == expected
    }

    // MARK: - Internals

    private func frames(_ module: Module, _ address: UInt64) -> [SymbolizedFrame] {
        if let cached = module.frames[address] { return cached }
        let symbol = module.table.index(containing: address)
        let frames = assemble(module, symbol: symbol, dwarfFrames: module.dwarf?.frames(at: address))
        module.frames[address] = frames
        return frames
    }

    /// `frames(module, address)` for each of `addresses`: the lookups first (`lookUp`, on two
    /// threads for many units), then the names not yet known demangled together, each distinct
    /// name once, then the frames put together (both on all CPUs).
    private func frames(_ module: Module, _ addresses: [UInt64]) -> [[SymbolizedFrame]] {
        var pending: [UInt64] = []
        pending.reserveCapacity(addresses.count)
        var seen = Set<UInt64>(minimumCapacity: addresses.count)
        for address in addresses where module.frames[address] == nil && seen.insert(address).inserted {
            pending.append(address)
        }
        let found = lookUp(module, pending)
        // The names the frames use that are not known yet: symbols', then DIEs'.
        var symbols: [Int] = []
        var wanted = [Bool](repeating: false, count: module.symbolNames.count)
        for item in found.items {
            if let symbol = item.symbol, module.symbolNames[symbol] == nil, !wanted[symbol] {
                wanted[symbol] = true
                symbols.append(symbol)
            }
        }
        var dies: [UInt64] = []
        var dieRawNames: [String?] = []
        let dieCount = found.dieNames.reduce(0) { $0 + $1.count }
        dies.reserveCapacity(dieCount)
        dieRawNames.reserveCapacity(dieCount)
        for names in found.dieNames {
            for (die, name) in names {
                dies.append(die)
                dieRawNames.append(name)
            }
        }
        let table = module.table
        let named = DWARFSymbolizer.nameAll(count: symbols.count + dies.count, style: names) { position, body in
            if position < symbols.count {
                table.withName(atIndex: symbols[position], body)
            } else if var name = dieRawNames[position - symbols.count] {
                name.withUTF8(body)
            } else {
                body(UnsafeBufferPointer(start: nil, count: 0))
            }
        }
        for (position, symbol) in symbols.enumerated() { module.symbolNames[symbol] = named[position] }
        module.dieNames.reserveCapacity(module.dieNames.count + dies.count)
        for (position, die) in dies.enumerated() {
            module.dieNames[die] = dieRawNames[position] == nil ? SymbolName(text: "??", language: .unknown) : named[symbols.count + position]
        }
        let assembled = assembleAll(module, found)
        module.frames.reserveCapacity(module.frames.count + assembled.count)
        for (position, frames) in assembled.enumerated() { module.frames[pending[position]] = frames }
        // Every address new and distinct (a symbolizer's usual batch): `pending` is `addresses`.
        if pending.count == addresses.count { return assembled }
        return addresses.map { module.frames[$0] ?? [] }
    }

    /// What looking up a batch of addresses found: for each, in order, its symbol (index in the
    /// module's table) and DWARF frames; and the raw names of the DIEs those frames name that the
    /// module has no name for yet (`nil`: the DIE has none).
    private struct Found {
        var items: [(symbol: Int?, dwarfFrames: [DWARFFrame]?)]
        /// This thread's finds, then each lane's (a DIE may be in two of them).
        var dieNames: [[UInt64: String?]] = [[:]]
    }

    /// Looks up `addresses` (distinct, none cached). When there are many in a natively read
    /// image, the compile units they fall in are shared out between the CPUs (`forEachUnit`),
    /// each lane reading the DWARF of the units it takes and looking up their addresses;
    /// otherwise one address after another on this thread.
    private func lookUp(_ module: Module, _ addresses: [UInt64]) -> Found {
        var found = Found(items: Array(repeating: (nil, nil), count: addresses.count))
        guard let dwarf = module.dwarf, dwarf.readsNatively, addresses.count >= 256,
              onlineProcessors > 1
        else {
            // libdw may be used by one thread only: a second handle builds the scopes ahead.
            if let dwarf = module.dwarf, !dwarf.readsNatively, addresses.count >= 256 { dwarf.preload(for: addresses) }
            for (position, address) in addresses.enumerated() {
                lookUp(module, address, into: &found.items[position], names: &found.dieNames[0])
            }
            return found
        }
        // The addresses of each unit, in one array ordered by unit.
        let unitOf = addresses.map { dwarf.unitIndex(containing: $0) ?? -1 }
        let order = unitOf.indices.sorted { unitOf[$0] != unitOf[$1] ? unitOf[$0] < unitOf[$1] : $0 < $1 }
        var groups: [Int: Range<Int>] = [:]
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, unitOf[order[end]] == unitOf[order[start]] { end += 1 }
            groups[unitOf[order[start]]] = start..<end
            start = end
        }
        let lanes = onlineProcessors
        var laneNames = Array(repeating: [UInt64: String?](), count: lanes)
        let outside = groups[-1].map { order[$0] } ?? []
        let leftOut: [Int] = found.items.withUnsafeMutableBufferPointer { items in
            laneNames.withUnsafeMutableBufferPointer { laneNames in
                // Each position is written by the lane that took its unit; the module's caches
                // are only read until the lanes are done.
                let shared = Unchecked((items, laneNames, module, self))
                let units = groups.keys.filter { $0 >= 0 }.sorted()
                let leftOut = dwarf.forEachUnit(units, lanes: lanes) { lane, unit in
                    let (items, laneNames, module, symbolizer) = shared.value
                    for position in order[groups[unit]!] {
                        symbolizer.lookUp(module, addresses[position], into: &items[position], names: &laneNames[lane])
                    }
                }
                // Addresses outside every unit (a runtime linked in without DWARF) need only
                // their symbol: in runs of 1,024 on every CPU. They have no DIE to name.
                let runs = (outside.count + 1023) / 1024
                DispatchQueue.concurrentPerform(iterations: runs) { run in
                    let (items, _, module, symbolizer) = shared.value
                    var noNames: [UInt64: String?] = [:]
                    for position in outside.dropFirst(run * 1024).prefix(1024) {
                        symbolizer.lookUp(module, addresses[position], into: &items[position], names: &noNames)
                    }
                }
                return leftOut
            }
        }
        // Units that need libdw, on this thread.
        for unit in leftOut {
            for position in order[groups[unit]!] {
                lookUp(module, addresses[position], into: &found.items[position], names: &found.dieNames[0])
            }
        }
        found.dieNames += laneNames
        return found
    }

    /// The symbol and DWARF frames of one address, and the raw names of the frames' DIEs the
    /// module does not know, into `names`. Reads the module's caches, never writes them.
    private func lookUp(
        _ module: Module, _ address: UInt64, into item: inout (symbol: Int?, dwarfFrames: [DWARFFrame]?),
        names: inout [UInt64: String?]
    ) {
        let symbol = module.table.index(containing: address)
        let dwarfFrames = module.dwarf?.frames(at: address)
        item = (symbol, dwarfFrames)
        guard let dwarf = module.dwarf, let dwarfFrames else { return }
        // The outermost frame takes the symbol's name when a symbol covers the address.
        for (index, frame) in dwarfFrames.enumerated() where index < dwarfFrames.count - 1 || symbol == nil {
            if let die = frame.die, module.dieNames[die] == nil, names[die] == nil {
                names[die] = .some(dwarf.name(ofDIE: die))
            }
        }
    }

    /// The frames of every address `found`, in order, put together on all CPUs when there are
    /// many: every name they use is in the module's caches by now, so the lanes only read them
    /// (a name missing after all is made again, not stored).
    private func assembleAll(_ module: Module, _ found: Found) -> [[SymbolizedFrame]] {
        let count = found.items.count
        let lanes = min(onlineProcessors, count / 1024)
        guard lanes > 1, module.dwarf?.readsNatively ?? true else {
            return found.items.map { assemble(module, symbol: $0.symbol, dwarfFrames: $0.dwarfFrames, caching: false) }
        }
        return Array(unsafeUninitializedCapacity: count) { results, initialized in
            // In runs of 1,024 positions, taken by whichever CPU is free; each run's positions
            // are written by the CPU that took it, and all are written when the runs are done.
            let shared = Unchecked((results, module, self, found))
            DispatchQueue.concurrentPerform(iterations: (count + 1023) / 1024) { run in
                let (results, module, symbolizer, found) = shared.value
                for position in (run * 1024)..<min(count, (run + 1) * 1024) {
                    let item = found.items[position]
                    (results.baseAddress! + position).initialize(
                        to: symbolizer.assemble(module, symbol: item.symbol, dwarfFrames: item.dwarfFrames, caching: false))
                }
            }
            initialized = count
        }
    }

    /// The frames of one address from its symbol (index in the module's table) and its DWARF
    /// frames, innermost first.
    /// `caching`: whether names not known yet are stored in the module's caches (else the
    /// module is only read, and any thread may call this).
    private func assemble(
        _ module: Module, symbol index: Int?, dwarfFrames: [DWARFFrame]?, caching: Bool = true
    ) -> [SymbolizedFrame] {
        var frames: [SymbolizedFrame] = []
        let symbol = index.map { symbolName(module, $0, caching: caching) }
        if let dwarf = module.dwarf, let dwarfFrames, !dwarfFrames.isEmpty {
            frames.reserveCapacity(dwarfFrames.count)
            for (index, frame) in dwarfFrames.enumerated() {
                let name: SymbolName
                if index == dwarfFrames.count - 1, let symbol {
                    name = symbol
                } else {
                    name = frame.die.map { dieName(module, dwarf, $0, caching: caching) } ?? SymbolName(text: "??", language: .unknown)
                }
                frames.append(SymbolizedFrame(
                    function: name.text, language: name.language, sourceFile: frame.file,
                    line: frame.file == nil ? nil : frame.line, column: frame.file == nil ? nil : frame.column,
                    isInlined: frame.isInlined))
            }
        } else if let symbol {
            frames = [SymbolizedFrame(function: symbol.text, language: symbol.language)]
        }
        return frames
    }

    private func symbolName(_ module: Module, _ index: Int, caching: Bool) -> SymbolName {
        if let known = module.symbolNames[index] { return known }
        let name = demangle(module.table.name(atIndex: index))
        if caching { module.symbolNames[index] = name }
        return name
    }

    private func dieName(_ module: Module, _ dwarf: DWARFIndex, _ offset: UInt64, caching: Bool) -> SymbolName {
        if let known = module.dieNames[offset] { return known }
        let name = dwarf.name(ofDIE: offset).map(demangle) ?? SymbolName(text: "??", language: .unknown)
        if caching { module.dieNames[offset] = name }
        return name
    }

    /// The module for `path` if its file is the one the recording saw (see `expect`).
    private func checkedModule(for path: String) -> Module? {
        if let module = checked[path] { return module }
        guard let module = module(for: path), buildIDs.allows(path: path, onDisk: module.image.buildID) else { return nil }
        checked[path] = module
        return module
    }

    private func module(for path: String) -> Module? {
        if let module = modules[path] {
            module.lastProfile = profile
            return module
        }
        if failures[path] != nil { return nil }
        let loaded: Loaded
        if let load = loads.removeValue(forKey: path) {
            loaded = load.value
        } else {
            // Not prepared: open the image first, so a path that shares a loaded build id
            // costs no DWARF index.
            do {
                let image = try ELFImage(path: path)
                if let shared = sharedModule(for: image, path: path) { return shared }
                loaded = DWARFSymbolizer.load(image, locator: locator)
            } catch {
                loaded = Loaded(module: .failure(error), notes: [])
            }
        }
        notes += loaded.notes
        switch loaded.module {
        case .failure(let error):
            failures[path] = error
            return nil
        case .success(let module):
            if let shared = sharedModule(for: module.image, path: path) { return shared }
            module.lastProfile = profile
            modules[path] = module
            if let id = module.image.buildID { modulesByBuildID[id] = module }
            return module
        }
    }

    /// The module already loaded for `image`'s build id (another path to the same file), now
    /// also `path`'s.
    private func sharedModule(for image: ELFImage, path: String) -> Module? {
        guard let id = image.buildID, let shared = modulesByBuildID[id] else { return nil }
        shared.lastProfile = profile
        modules[path] = shared
        return shared
    }

    /// What loading one path gave: its module or why it has none, and notes on debug files
    /// that were rejected.
    private struct Loaded {
        var module: Result<Module, SymbolicationError>
        var notes: [String]
    }

    /// Opens the image at `path` and builds its module (on any thread: it touches no shared state).
    private static func load(path: String, locator: DebugFileLocator) -> Loaded {
        do {
            return load(try ELFImage(path: path), locator: locator)
        } catch {
            return Loaded(module: .failure(error), notes: [])
        }
    }

    /// The module of an opened image: its debug file when it lacks DWARF or `.symtab`, the DWARF
    /// index and the merged symbol table.
    private static func load(_ image: ELFImage, locator: DebugFileLocator) -> Loaded {
        var notes: [String] = []
        let hasDWARF = DWARFIndex.hasDWARF(image)
        let hasSymtab = image.sections.contains { $0.type == UInt32(SHT_SYMTAB) }
        var debugImage: ELFImage? = nil
        if !hasDWARF || !hasSymtab {
            let outcome = locator.locate(for: image)
            debugImage = outcome.image
            for rejected in outcome.rejected {
                notes.append("ignoring debug file \(rejected.path) for \(image.path): \(rejected.reason)")
            }
        }
        // The symbol table is read on another CPU while the native reader indexes the units.
        // libelf is used by one thread at a time: the DWARF sections are read before the
        // table starts, and libdw (which has its own use of libelf) only after it is done.
        let sections = hasDWARF ? DWARFSections(image: image) : nil
        let images = Unchecked(debugImage.map { [image, $0] } ?? [image])
        let symbols = BackgroundLoad(lane: .anyCPU) { Unchecked(SymbolTable(images: images.value, aliases: .llvmSymbolizer)) }
        let reader = sections.flatMap { try? DWARFReader(sections: $0) }
        var dwarf = reader.flatMap { DWARFIndex(image: image, reader: $0) }
        let table = symbols.value.value
        if hasDWARF, reader == nil {
            // The native reader declined this image (it was asked once, above): libdw reads it.
            dwarf = DWARFIndex(image: image, reader: nil)
        }
        if dwarf == nil, let debugImage, DWARFIndex.hasDWARF(debugImage) {
            dwarf = DWARFIndex(image: debugImage)
        }
        let module = Module(image: image, debugImage: debugImage, dwarf: dwarf, table: table)
        // The symbol table holds its own copy of the names and the unit index its ranges; what
        // symbolizing reads later (a few units' DIEs and line tables) faults back in page by page.
        releaseFilePages(of: image)
        if let debugImage { releaseFilePages(of: debugImage) }
        return Loaded(module: .success(module), notes: notes)
    }

    /// Drops the pages of `image`'s read-only file mapping from this process's resident set:
    /// building a module reads all of `.symtab`, `.strtab` and the compile-unit headers, which
    /// for a compiler binary is 50-150 MB that would otherwise stay resident to the end of the
    /// report, once per DSO. The mapping is private and never written, so the pages come back
    /// unchanged from the page cache when something reads them again.
    private static func releaseFilePages(of image: ELFImage) {
        var size = 0
        guard let base = elf_rawfile(image.elf, &size), size > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: UnsafeRawPointer(base)) & ~(page - 1)
        let end = Int(bitPattern: UnsafeRawPointer(base)) + size
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
    }

    private func demangle(_ name: String) -> SymbolName {
        DWARFSymbolizer.demangle(name, style: names)
    }

    private static func demangle(_ name: String, style: Demangler.NameStyle) -> SymbolName {
        SymbolName(text: Demangler.name(name, style: style), language: Demangler.language(ofSymbol: name))
    }

    /// The `count` names `withName` gives (position, then a body to call with the name's
    /// bytes) in `style`, one per position; each distinct name is demangled once. The names are
    /// shared out over the CPUs by hash, so a lane sees every copy of the names it takes: each
    /// lane finds its distinct names and demangles them with no table shared between lanes.
    /// (`Demangler` is stateless, `swift_demangle` thread-safe.)
    private static func nameAll(
        count: Int, style: Demangler.NameStyle,
        _ withName: (_ position: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Void
    ) -> [SymbolName] {
        let lanes = max(1, min(onlineProcessors, count / 256))
        return withoutActuallyEscaping(withName) { withName in
            Array(unsafeUninitializedCapacity: count) { results, initialized in
                // Each lane writes the positions of its names; every position is some lane's.
                let shared = Unchecked((results, withName))
                DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                    let (results, withName) = shared.value
                    var distinct = DistinctNames(capacity: count / lanes + 64)
                    var slots: [(position: Int, slot: Int)] = []
                    slots.reserveCapacity(count / lanes + 64)
                    for position in 0..<count {
                        withName(position) { bytes in
                            let hash = DistinctNames.hash(bytes)
                            guard Int(truncatingIfNeeded: hash >> 32) % lanes == lane else { return }
                            slots.append((position, distinct.slot(of: bytes, hash: hash)))
                        }
                    }
                    let demangled = distinct.names.map { demangle($0, style: style) }
                    for (position, slot) in slots { (results.baseAddress! + position).initialize(to: demangled[slot]) }
                }
                initialized = count
            }
        }
    }
}

/// A function's printed name and the language its mangling tells.
private struct SymbolName {
    var text: String
    var language: SourceLanguage
}
