import CElfutils
import SystemIO
import Glibc

/// Finds the separate debug file of an ELF image, the way gdb and elfutils do.
///
/// Candidates, in order, each accepted only if it matches the image:
/// 1. build id: `ROOT/.build-id/xx/rest.debug` for each root in `debugDirectories`, then
///    `/usr/lib/debug` (matched by comparing build ids);
/// 2. `.gnu_debuglink` name `NAME`: `DIR/NAME`, `DIR/.debug/NAME`, then `ROOT/DIR/NAME` and
///    `ROOT/NAME` for each root (`DIR` is the image's directory), matched by the link's CRC-32,
///    or by build id when both files have one;
/// 3. debuginfod, only when the `DEBUGINFOD_URLS` environment variable is set and non-empty
///    and `libdebuginfod.so.1` can be loaded (it downloads into its own cache).
///
/// A candidate whose build id differs from the image's is rejected and remembered in
/// `rejected`, so a stale debug file is reported rather than used.
public struct DebugFileLocator: Sendable {
    /// Extra roots searched before `/usr/lib/debug` (e.g. from `--debug-dir`).
    public var debugDirectories: [String]
    /// Whether debuginfod may be asked (still requires `DEBUGINFOD_URLS`).
    public var allowDebuginfod: Bool

    /// The system root for debug files.
    public static let systemDebugDirectory = "/usr/lib/debug"

    public init(debugDirectories: [String] = [], allowDebuginfod: Bool = true) {
        self.debugDirectories = debugDirectories
        self.allowDebuginfod = allowDebuginfod
    }

    /// The outcome of a search.
    public struct Outcome {
        /// The matching debug file, opened; `nil` when none was found.
        public var image: ELFImage?
        /// Candidates that exist but belong to another build (path and reason).
        public var rejected: [(path: String, reason: String)] = []
    }

    /// The `.gnu_debuglink` of `image`: the debug file's name and its CRC-32.
    public static func debugLink(of image: ELFImage) -> (name: String, crc: UInt32)? {
        guard let section = image.section(named: ".gnu_debuglink"),
              let scn = elf_getscn(image.elf, section.index),
              let data = elf_getdata(scn, nil), let base = data.pointee.d_buf
        else { return nil }
        let size = data.pointee.d_size
        let bytes = UnsafeRawBufferPointer(start: base, count: size)
        guard let nul = bytes.firstIndex(of: 0), nul > 0 else { return nil }
        let name = String(decoding: bytes[0..<nul], as: UTF8.self)
        let crcOffset = (nul + 4) & ~3
        guard crcOffset + 4 <= size else { return nil }
        // The CRC is stored in the file's byte order; all our targets are little-endian.
        let crc = UInt32(bytes[crcOffset]) | UInt32(bytes[crcOffset + 1]) << 8
            | UInt32(bytes[crcOffset + 2]) << 16 | UInt32(bytes[crcOffset + 3]) << 24
        return (name, crc)
    }

    /// Searches for the debug file of `image`.
    public func locate(for image: ELFImage) -> Outcome {
        var result = Outcome()
        let roots = debugDirectories + [DebugFileLocator.systemDebugDirectory]
        var tried = Set<String>()
        tried.insert(image.path)

        if let id = image.buildIDHex, id.count > 2 {
            let prefix = id.prefix(2)
            let rest = id.dropFirst(2)
            for root in roots {
                let path = "\(root)/.build-id/\(prefix)/\(rest).debug"
                guard tried.insert(path).inserted, access(path, R_OK) == 0 else { continue }
                if let candidate = accept(path, for: image, crc: nil, rejected: &result.rejected) {
                    result.image = candidate
                    return result
                }
            }
        }

        if let link = DebugFileLocator.debugLink(of: image) {
            let directory = DebugFileLocator.directory(of: image.path)
            var candidates = ["\(directory)/\(link.name)", "\(directory)/.debug/\(link.name)"]
            for root in roots {
                candidates.append("\(root)\(directory.hasPrefix("/") ? "" : "/")\(directory)/\(link.name)")
                candidates.append("\(root)/\(link.name)")
            }
            for path in candidates {
                guard tried.insert(path).inserted, access(path, R_OK) == 0 else { continue }
                if let candidate = accept(path, for: image, crc: link.crc, rejected: &result.rejected) {
                    result.image = candidate
                    return result
                }
            }
        }

        if allowDebuginfod, let id = image.buildID, let path = Debuginfod.fetchDebugInfo(buildID: id),
           tried.insert(path).inserted,
           let candidate = accept(path, for: image, crc: nil, rejected: &result.rejected)
        {
            result.image = candidate
        }
        return result
    }

    private func accept(
        _ path: String, for image: ELFImage, crc: UInt32?, rejected: inout [(path: String, reason: String)]
    ) -> ELFImage? {
        guard let candidate = try? ELFImage(path: path) else { return nil }
        // Both have build ids: they decide.
        if let expected = image.buildID, let actual = candidate.buildID {
            if expected == actual { return candidate }
            rejected.append((path, "build id \(ELFImage.hex(actual)) differs from \(ELFImage.hex(expected))"))
            return nil
        }
        if let crc {
            guard let actual = DebugFileLocator.crc32(ofFile: path) else { return nil }
            if actual == crc { return candidate }
            rejected.append((path, "CRC-32 \(hex32(actual)) differs from the debuglink's \(hex32(crc))"))
            return nil
        }
        rejected.append((path, "has no build id to check"))
        return nil
    }

    private func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "" }
        return String(path[path.startIndex..<slash])
    }

    // MARK: - CRC-32 (the zlib/IEEE polynomial, as .gnu_debuglink uses)

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// CRC-32 of `bytes`, continuing from `crc` (0 to start).
    public static func crc32(_ bytes: UnsafeRawBufferPointer, crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        crcTable.withUnsafeBufferPointer { table in
            for byte in bytes { c = table[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
        }
        return ~c
    }

    /// CRC-32 of the whole file at `path`, or `nil` when it cannot be read.
    public static func crc32(ofFile path: String) -> UInt32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var crc: UInt32 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            guard let n = try? retryingInterrupted({ read(fd, buffer.baseAddress, buffer.count) }) else { return nil }
            if n == 0 { return crc }
            crc = crc32(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), crc: crc)
        }
    }
}

/// debuginfod through `libdebuginfod.so.1`, loaded on first use and only when `DEBUGINFOD_URLS`
/// is set: without it nothing is ever fetched.
enum Debuginfod {
    private typealias BeginFn = @convention(c) () -> OpaquePointer?
    private typealias FindFn = @convention(c) (
        OpaquePointer?, UnsafePointer<UInt8>?, Int32, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    ) -> Int32

    private struct Client: @unchecked Sendable {
        var client: OpaquePointer?
        var find: FindFn?
    }

    /// Whether `DEBUGINFOD_URLS` asks for debuginfod.
    static var isEnabled: Bool {
        guard let urls = getenv("DEBUGINFOD_URLS") else { return false }
        return urls.pointee != 0
    }

    private static let shared: Client = {
        guard isEnabled, let handle = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL),
              let begin = dlsym(handle, "debuginfod_begin"),
              let find = dlsym(handle, "debuginfod_find_debuginfo")
        else { return Client() }
        let client = unsafeBitCast(begin, to: BeginFn.self)()
        return Client(client: client, find: unsafeBitCast(find, to: FindFn.self))
    }()

    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    /// The path of the debug file for `buildID` in debuginfod's cache (downloading it if
    /// needed), or `nil` when debuginfod is disabled, unavailable or does not know the build.
    static func fetchDebugInfo(buildID: [UInt8]) -> String? {
        guard isEnabled else { return nil }
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        let client = shared
        guard let find = client.find, let handle = client.client else { return nil }
        var path: UnsafeMutablePointer<CChar>? = nil
        let fd = buildID.withUnsafeBufferPointer {
            find(handle, $0.baseAddress, Int32($0.count), &path)
        }
        guard fd >= 0 else { return nil }
        close(fd)
        guard let path else { return nil }
        defer { free(path) }
        return String(cString: path)
    }
}
