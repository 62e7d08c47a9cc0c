/// Values interned to dense `Int32` ids, so hot loops compare and hash integers.
@frozen
public struct Interner<Value: Hashable>: Sendable where Value: Sendable {
    @usableFromInline var storedValues: [Value] = []
    /// Every value, at its id.
    @inlinable public var values: [Value] { storedValues }
    @usableFromInline var ids: [Value: Int32] = [:]

    @inlinable
    public init() {}

    /// The id of `value`, assigned on first sight.
    @inlinable @inline(__always)
    public mutating func intern(_ value: Value) -> Int32 {
        if let id = ids[value] { return id }
        let id = Int32(storedValues.count)
        storedValues.append(value)
        ids[value] = id
        return id
    }

    /// The id of `value`, if it was interned.
    public func id(of value: Value) -> Int32? { ids[value] }

    public subscript(id: Int32) -> Value { values[Int(id)] }

    public var count: Int { values.count }
}
