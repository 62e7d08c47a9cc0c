import SystemIO
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
    /// 16 bytes: a kernel has over 100,000 text symbols.
    private struct Entry: Sendable {
        var address: UInt64
        var nameOffset: UInt32
        /// The name's length in the low 15 bits; the top bit marks a global (`T`) symbol.
        var nameField: UInt16
        var module: Int16 // index into `modules`, -1 for the core kernel

        var nameLength: Int { Int(nameField & 0x7fff) }
        var isGlobal: Bool { nameField & 0x8000 != 0 }
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
        var parser = Parser()
        do {
            try forEachLine(ofFile: path) { parser.consume(line: $0) }
        } catch let code {
            throw .cannotOpen(path: path, errno: code.code)
        }
        let parsed = parser.finish()
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
            for entry in entries where entry.nameLength == wanted.count {
                let start = Int(entry.nameOffset)
                if pool[start..<start + wanted.count].elementsEqual(wanted) { return entry.address }
            }
            return nil
        }
    }

    private func name(of entry: Entry) -> String {
        let start = Int(entry.nameOffset)
        return String(decoding: namePool[start..<start + entry.nameLength], as: UTF8.self)
    }

    // MARK: - Parsing

    private static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case 0x30...0x39: UInt64(byte - 0x30)
        case 0x61...0x66: UInt64(byte - 0x61 + 10)
        case 0x41...0x46: UInt64(byte - 0x41 + 10)
        default: nil
        }
    }

    /// Builds the symbol table from kallsyms lines, one at a time.
    private struct Parser {
        var entries: [Entry] = []
        var pool: [UInt8] = []
        var modules: [String] = []
        var moduleIndex: [String: Int16] = [:]
        /// The module of the previous line (lines come grouped by module).
        var lastModule: (name: [UInt8], index: Int16)? = nil
        var inOrder = true
        var allZero = true
        var sawSymbol = false

        mutating func consume(line: UnsafeBufferPointer<UInt8>) {
            let end = line.count
            var p = 0
            var address: UInt64 = 0
            var digits = 0
            while p < end, let v = KernelSymbols.hexValue(line[p]) {
                address = address &<< 4 | v
                p += 1
                digits += 1
            }
            guard digits > 0, p + 2 < end, line[p] == 0x20, line[p + 2] == 0x20 else { return }
            sawSymbol = true
            if address != 0 { allZero = false }
            let type = line[p + 1]
            // t T w W
            guard type == 0x74 || type == 0x54 || type == 0x77 || type == 0x57 else { return }
            let nameStart = p + 3
            var nameEnd = nameStart
            while nameEnd < end, line[nameEnd] != 0x09, line[nameEnd] != 0x20 { nameEnd += 1 }
            guard nameEnd > nameStart, nameEnd - nameStart < 0x8000 else { return }
            let global = type == 0x54

            // Sorted input (the usual case) puts aliases side by side: keep one per address here.
            if let last = entries.last, last.address == address {
                if last.isGlobal || !global { return }
                entries.removeLast()
            } else if let last = entries.last, last.address > address {
                inOrder = false
            }

            var module: Int16 = -1
            var m = nameEnd
            while m < end, line[m] == 0x09 || line[m] == 0x20 { m += 1 }
            if m < end, line[m] == 0x5B { // '['
                let modStart = m + 1
                var modEnd = modStart
                while modEnd < end, line[modEnd] != 0x5D { modEnd += 1 } // ']'
                if modEnd > modStart {
                    let name = UnsafeBufferPointer(rebasing: line[modStart..<modEnd])
                    if let last = lastModule, last.name.elementsEqual(name) {
                        module = last.index
                    } else {
                        let moduleName = String(decoding: name, as: UTF8.self)
                        if let known = moduleIndex[moduleName] {
                            module = known
                        } else {
                            guard let index = Int16(exactly: modules.count) else { return }
                            module = index
                            modules.append(moduleName)
                            moduleIndex[moduleName] = module
                        }
                        lastModule = (Array(name), module)
                    }
                }
            }
            guard let offset = UInt32(exactly: pool.count) else { return }
            pool.append(contentsOf: UnsafeBufferPointer(rebasing: line[nameStart..<nameEnd]))
            entries.append(Entry(address: address, nameOffset: offset,
                                 nameField: UInt16(nameEnd - nameStart) | (global ? 0x8000 : 0), module: module))
        }

        /// The sorted entries, one per address: the first global symbol there, else the first listed.
        mutating func finish() -> (entries: [Entry], pool: [UInt8], modules: [String], allZero: Bool) {
            if !inOrder {
                // Stable by listing order, then one per address as in `consume`.
                let sorted = entries.enumerated().sorted { a, b in
                    a.element.address != b.element.address ? a.element.address < b.element.address : a.offset < b.offset
                }
                entries.removeAll(keepingCapacity: true)
                for (_, entry) in sorted {
                    if let last = entries.last, last.address == entry.address {
                        if last.isGlobal || !entry.isGlobal { continue }
                        entries.removeLast()
                    }
                    entries.append(entry)
                }
            }
            return (entries, pool, modules, sawSymbol && allZero)
        }
    }
}
