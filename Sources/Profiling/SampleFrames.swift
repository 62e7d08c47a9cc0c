import ProfileModel
import Symbolication

/// The per-sample path's symbolization: each location of the resolver's table turned into
/// frames once (by ``ProfileAssembly``, as the profile's are) and kept by location id, with the
/// distance of its address from its symbol's start for `sym+0x…`. Grows with the unique
/// locations of a recording, never with its samples.
struct SampleFrames {
    /// A location's frames, innermost first, at the address it was looked up at.
    private var byLocation: [[ResolvedFrame]?] = []
    private var offsets: SymbolOffsets?

    /// - Parameter symbolOffsets: find each frame's offset in its symbol (reads symbol tables a
    ///   second time; kernel symbols are the symbolizer's).
    init(symbolizer: AddressSymbolizer, symbolOffsets: Bool) {
        offsets = symbolOffsets ? SymbolOffsets(symbolizer: symbolizer) : nil
    }

    /// The frames of the stack at `node`, sampled frame first. Every location but the sampled
    /// one and the interrupted user one below kernel frames is a return address looked up at
    /// `pc - 1` (as ``StackResolver`` does): it is printed as recorded.
    mutating func frames(ofNode node: Int32, resolver: StackResolver, assembly: ProfileAssembly,
                         into result: inout [ResolvedFrame]) {
        result.removeAll(keepingCapacity: true)
        let path = resolver.tree.path(to: node)
        var belowKernel = false
        for (depth, id) in path.reversed().enumerated() {
            let frames = frames(ofLocation: id, resolver: resolver, assembly: assembly)
            let location = resolver.locations.locations[Int(id)]
            let inKernel = if case .kernel = location { true } else { false }
            defer { belowKernel = inKernel }
            guard depth > 0, inKernel || !belowKernel || resolver.isSyscallReturn(location) else {
                result += frames
                continue
            }
            for var frame in frames {
                frame.address &+= 1
                frame.symbolOffset = frame.symbolOffset.map { $0 &+ 1 }
                result.append(frame)
            }
        }
    }

    private mutating func frames(ofLocation id: Int32, resolver: StackResolver, assembly: ProfileAssembly) -> [ResolvedFrame] {
        let index = Int(id)
        if index < byLocation.count, let known = byLocation[index] { return known }
        if index >= byLocation.count { byLocation += repeatElement(nil, count: index + 1 - byLocation.count) }
        let location = resolver.locations.locations[index]
        let address: UInt64
        switch location {
        case .user(_, let offset): address = offset
        case .kernel(let value), .unmapped(let value), .jit(_, let value): address = value
        case .truncated, .label: address = 0
        }
        let frames = assembly.frames(of: location, resolver: resolver)
        var resolved: [ResolvedFrame] = []
        resolved.reserveCapacity(frames.count)
        // Outermost first from the assembly: the last is the function the code belongs to.
        for (position, frame) in frames.enumerated().reversed() {
            var offset: UInt64?
            if position == 0, !frame.isUnknownSymbol {
                offset = offsets?.offset(of: location, symbol: frame.symbol, path: frame.dso, model: assembly.model)
            }
            resolved.append(ResolvedFrame(frame: frame, address: address, symbolOffset: offset))
        }
        byLocation[index] = resolved
        return resolved
    }
}

/// Where symbols start, for the `+0x…` of `sym+off`: the ELF symbol tables of the images the
/// symbolizer opened (and their debug files), and the symbolizer's kernel symbols.
private struct SymbolOffsets {
    let symbolizer: AddressSymbolizer
    private var tables: [String: (image: ELFImage, table: SymbolTable)?] = [:]
    private var kernel: KernelSymbols??
    private var kernelStarts: [String: UInt64?] = [:]

    init(symbolizer: AddressSymbolizer) {
        self.symbolizer = symbolizer
    }

    mutating func offset(of location: Location, symbol: String, path: String, model: ProcessModel) -> UInt64? {
        switch location {
        case .user(let dso, let fileOffset):
            guard let (image, table) = table(for: model.imagePath(ofDSO: dso)),
                  let address = image.virtualAddress(forFileOffset: fileOffset),
                  let found = table.lookup(address) else { return nil }
            return address - found.start
        case .kernel(let address):
            // The symbolizer's (kallsyms is read once); one of its own for a symbolizer without.
            if kernel == nil { kernel = .some(symbolizer.kernelSymbols ?? (try? KernelSymbols())) }
            guard let symbols = kernel ?? nil else { return nil }
            if kernelStarts[symbol] == nil { kernelStarts[symbol] = .some(symbols.address(ofSymbolNamed: symbol)) }
            guard let start = kernelStarts[symbol] ?? nil, start <= address else { return nil }
            return address - start
        case .unmapped, .jit, .truncated, .label:
            return nil
        }
    }

    private mutating func table(for path: String) -> (image: ELFImage, table: SymbolTable)? {
        if let known = tables[path] { return known }
        var found: (ELFImage, SymbolTable)?
        let dwarf = symbolizer as? DWARFSymbolizer
        if let image = dwarf?.image(forPath: path) ?? (try? ELFImage(path: path)) {
            let debug = dwarf?.debugFilePath(forPath: path).flatMap { try? ELFImage(path: $0) }
            found = (image, SymbolTable(images: debug.map { [image, $0] } ?? [image]))
        }
        tables[path] = .some(found)
        return found
    }
}
