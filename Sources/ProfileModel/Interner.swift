/// Values interned to dense `Int32` ids, so hot loops compare and hash integers.
public struct Interner<Value: Hashable>: Sendable where Value: Sendable {
    /// Every value, at its id.
    public private(set) var values: [Value] = []
    private var ids: [Value: Int32] = [:]

    public init() {}

    /// The id of `value`, assigned on first sight.
    @inline(__always)
    public mutating func intern(_ value: Value) -> Int32 {
        if let id = ids[value] { return id }
        let id = Int32(values.count)
        values.append(value)
        ids[value] = id
        return id
    }

    /// The id of `value`, if it was interned.
    public func id(of value: Value) -> Int32? { ids[value] }

    public subscript(id: Int32) -> Value { values[Int(id)] }

    public var count: Int { values.count }
}
