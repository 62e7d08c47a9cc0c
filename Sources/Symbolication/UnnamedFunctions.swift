/// Names for code no symbol covers: the module's base name and the start of the function, from
/// the `.eh_frame` FDE that covers the address (``FunctionBoundaries``) — `gzip+0x4300`. So a
/// stripped binary's samples stay apart by function instead of collapsing into one `[unknown]`,
/// and every address in one function gets the same name.
///
/// The number is the function start's **file offset**: the same number Perch (`--addrs`) and
/// perf print for an unknown address in that file, and for PIE executables and shared objects
/// usually also the address `objdump -d` shows.
///
/// Caches one image and its boundaries per path. Not thread-safe: confine it to one thread.
public final class UnnamedFunctions {
    private final class Module {
        let image: ELFImage
        let boundaries: FunctionBoundaries
        init(image: ELFImage) {
            self.image = image
            self.boundaries = FunctionBoundaries(image: image)
        }
    }

    /// `nil`: the path cannot be opened as ELF.
    private var modules: [String: Module?] = [:]

    public init() {}

    /// The name of the function containing `fileOffset` in the file at `path`, shown as
    /// `moduleName+0x<hex file offset of the function start>`; `nil` when the file cannot be
    /// opened, has another build id than `expectedBuildID`, or no FDE covers the offset.
    public func name(path: String, fileOffset: UInt64, expectedBuildID: [UInt8]?, moduleName: String) -> String? {
        guard let start = functionStart(path: path, fileOffset: fileOffset, expectedBuildID: expectedBuildID) else { return nil }
        return "\(moduleName)+0x\(String(start, radix: 16))"
    }

    /// The file offset where the function containing `fileOffset` starts (see `name`).
    public func functionStart(path: String, fileOffset: UInt64, expectedBuildID: [UInt8]?) -> UInt64? {
        guard let module = module(path: path),
              expectedBuildID == nil || module.image.buildID == nil || module.image.buildID == expectedBuildID,
              let address = module.image.virtualAddress(forFileOffset: fileOffset),
              let start = module.boundaries.functionStart(containing: address)
        else { return nil }
        return module.image.fileOffset(forVirtualAddress: start)
    }

    private func module(path: String) -> Module? {
        if let known = modules[path] { return known }
        let module = (try? ELFImage(path: path)).map(Module.init)
        modules[path] = .some(module)
        return module
    }
}
