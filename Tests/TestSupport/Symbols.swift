/// `nm -S` addresses (and sizes, where the symbol has one) of the defined text symbols of `path`, by name.
public func nmSymbols(_ path: String) throws -> [String: (address: UInt64, size: UInt64?)] {
    var result: [String: (address: UInt64, size: UInt64?)] = [:]
    for line in try ProcessRunner.output(["nm", "-S", path]).split(separator: "\n") {
        let fields = line.split(separator: " ")
        // "addr size T name" or "addr T name"
        guard fields.count >= 3, let address = UInt64(fields[0], radix: 16) else { continue }
        let type = fields[fields.count - 2]
        guard type == "T" || type == "t" else { continue }
        let size = fields.count == 4 ? UInt64(fields[1], radix: 16) : nil
        result[String(fields[fields.count - 1])] = (address, size)
    }
    return result
}
