import Glibc

/// Kernel text symbols from `/proc/kallsyms`, for kernel address → name lookup.
///
/// Lines look like `ffffffff81000000 T _stext` or `ffffffffc0a01000 t name\t[module]`. Only
/// text symbols (`t`, `T`, `w`, `W`) are kept. Each symbol ends where the next one (at a
/// higher address) starts; the highest symbol covers one page. Where several symbols share
/// an address the first global (`T`) one is kept, else the first one listed.
///
/// Without privileges (or with `kernel.kptr_restrict` set) every address reads as zero:
/// then `addressesHidden` is true and every lookup returns `nil`.
public final class KernelSymbols: Sendable {
    private struct Entry: Sendable {
        var address: UInt64
        var nameOffset: UInt32
        var nameLength: UInt32
        var module: Int32 // index into `modules`, -1 for the core kernel
    }

    /// The file the symbols were read from.
    public let path: String
    /// True when every address in the file is zero (`kptr_restrict`, or no privileges).
    public let addressesHidden: Bool
    private let entries: [Entry]
    private let namePool: [UInt8]
    private let modules: [String]

    /// The number of text symbols kept.
    public var count: Int { entries.count }

    /// How far the highest symbol is assumed to extend.
    private static let lastSymbolExtent: UInt64 = 4096

    /// Reads and parses `path` (default `/proc/kallsyms`).
    /// - Throws: `SymbolicationError.cannotOpen` when the file cannot be read.
    public init(path: String = "/proc/kallsyms") throws(SymbolicationError) {
        self.path = path
        let bytes: [UInt8]
        do {
            bytes = try KernelSymbols.readWholeFile(path)
        } catch let code {
            throw .cannotOpen(path: path, errno: code.value)
        }
        let parsed = KernelSymbols.parse(bytes)
        addressesHidden = parsed.allZero
        entries = parsed.entries
        namePool = parsed.pool
        modules = parsed.modules
    }

    /// The text symbol containing `address`, with the module name (without brackets) when
    /// the symbol belongs to a loadable module; `nil` when no symbol covers it.
    public func lookup(_ address: UInt64) -> (name: String, module: String?)? {
        guard !addressesHidden else { return nil }
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].address <= address { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let entry = entries[low - 1]
        let end = low < entries.count
            ? entries[low].address
            : entry.address &+ KernelSymbols.lastSymbolExtent
        guard address < end else { return nil }
        return (name(of: entry), entry.module >= 0 ? modules[Int(entry.module)] : nil)
    }

    /// The address of the text symbol called `name` (first match), or `nil`. Only symbols kept
    /// after collapsing aliases are found. A linear scan: for tools and tests.
    public func address(ofSymbolNamed name: String) -> UInt64? {
        let wanted = Array(name.utf8)
        return namePool.withUnsafeBufferPointer { pool in
            for entry in entries where Int(entry.nameLength) == wanted.count {
                let start = Int(entry.nameOffset)
                if pool[start..<start + wanted.count].elementsEqual(wanted) { return entry.address }
            }
            return nil
        }
    }

    private func name(of entry: Entry) -> String {
        let start = Int(entry.nameOffset)
        return String(decoding: namePool[start..<start + Int(entry.nameLength)], as: UTF8.self)
    }

    // MARK: - Parsing

    private struct Errno: Error { var value: Int32 }

    /// Reads a file with `read(2)` until EOF (procfs files report size 0 to `stat`).
    private static func readWholeFile(_ path: String) throws(Errno) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno(value: errno) }
        defer { close(fd) }
        var result = [UInt8]()
        result.reserveCapacity(1 << 20)
        let chunkSize = 1 << 20
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunkSize) }
            if got < 0 {
                if errno == EINTR { continue }
                throw Errno(value: errno)
            }
            if got == 0 { break }
            result.append(contentsOf: chunk[0..<got])
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case 0x30...0x39: UInt64(byte - 0x30)
        case 0x61...0x66: UInt64(byte - 0x61 + 10)
        case 0x41...0x46: UInt64(byte - 0x41 + 10)
        default: nil
        }
    }

    private static func parse(_ bytes: [UInt8])
        -> (entries: [Entry], pool: [UInt8], modules: [String], allZero: Bool)
    {
        struct Raw { var entry: Entry; var global: Bool }
        var raws = [Raw]()
        raws.reserveCapacity(bytes.count / 40)
        var pool = [UInt8]()
        pool.reserveCapacity(bytes.count / 2)
        var modules = [String]()
        var moduleIndex = [String: Int32]()
        var lastModule: (start: Int, end: Int, index: Int32)? = nil
        var allZero = true

        var sawSymbol = false
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let n = buf.count
            var i = 0
            while i < n {
                // One line: [i, lineEnd)
                var lineEnd = i
                while lineEnd < n, buf[lineEnd] != 0x0A { lineEnd += 1 }
                defer { i = lineEnd + 1 }

                var p = i
                var address: UInt64 = 0
                var digits = 0
                while p < lineEnd, let v = hexValue(buf[p]) {
                    address = address &<< 4 | v
                    p += 1
                    digits += 1
                }
                guard digits > 0, p + 2 < lineEnd, buf[p] == 0x20, buf[p + 2] == 0x20 else { continue }
                sawSymbol = true
                if address != 0 { allZero = false }
                let type = buf[p + 1]
                // t T w W
                guard type == 0x74 || type == 0x54 || type == 0x77 || type == 0x57 else { continue }
                let nameStart = p + 3
                var nameEnd = nameStart
                while nameEnd < lineEnd, buf[nameEnd] != 0x09, buf[nameEnd] != 0x20 { nameEnd += 1 }
                guard nameEnd > nameStart else { continue }

                var module: Int32 = -1
                var m = nameEnd
                while m < lineEnd, buf[m] == 0x09 || buf[m] == 0x20 { m += 1 }
                if m < lineEnd, buf[m] == 0x5B { // '['
                    let modStart = m + 1
                    var modEnd = modStart
                    while modEnd < lineEnd, buf[modEnd] != 0x5D { modEnd += 1 } // ']'
                    if modEnd > modStart {
                        if let last = lastModule, last.end - last.start == modEnd - modStart,
                           memcmp(base + last.start, base + modStart,
                                  modEnd - modStart) == 0
                        {
                            module = last.index
                        } else {
                            let moduleName = String(
                                decoding: UnsafeBufferPointer(rebasing: buf[modStart..<modEnd]),
                                as: UTF8.self)
                            if let known = moduleIndex[moduleName] {
                                module = known
                            } else {
                                module = Int32(modules.count)
                                modules.append(moduleName)
                                moduleIndex[moduleName] = module
                            }
                            lastModule = (modStart, modEnd, module)
                        }
                    }
                }
                guard let offset = UInt32(exactly: pool.count),
                      let length = UInt32(exactly: nameEnd - nameStart) else { continue }
                pool.append(contentsOf: UnsafeBufferPointer(rebasing: buf[nameStart..<nameEnd]))
                raws.append(Raw(
                    entry: Entry(address: address, nameOffset: offset, nameLength: length, module: module),
                    global: type == 0x54))
            }
        }

        // kallsyms is mostly sorted already; sort (stably, by listing order) only if needed.
        var sorted = true
        for k in raws.indices.dropFirst() where raws[k - 1].entry.address > raws[k].entry.address {
            sorted = false
            break
        }
        if !sorted {
            raws = raws.enumerated()
                .sorted { a, b in
                    a.element.entry.address != b.element.entry.address
                        ? a.element.entry.address < b.element.entry.address
                        : a.offset < b.offset
                }
                .map(\.element)
        }
        // One symbol per address: the first global one, else the first listed.
        var entries = [Entry]()
        entries.reserveCapacity(raws.count)
        var k = 0
        while k < raws.count {
            var chosen = raws[k]
            var next = k + 1
            while next < raws.count, raws[next].entry.address == chosen.entry.address {
                if !chosen.global, raws[next].global { chosen = raws[next] }
                next += 1
            }
            entries.append(chosen.entry)
            k = next
        }
        return (entries, pool, modules, sawSymbol && allZero)
    }
}
