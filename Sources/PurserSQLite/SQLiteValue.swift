/// A value bound to a statement parameter or read from a result column.
///
/// There is deliberately no floating-point case: Purser stores money as `Int64` micros,
/// and a `Double` anywhere in the path would invite rounding. `SQLiteRow.value(_:)`
/// reports a `REAL` column, which Purser never writes, as its SQL text.
public enum SQLiteValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

// Literals keep call sites short (`run([42, "name", nil])`). There is no
// `ExpressibleByFloatLiteral`, so `run([1.5])` does not compile.
extension SQLiteValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) {
        self = .integer(value)
    }
}

extension SQLiteValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .text(value)
    }
}

extension SQLiteValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) {
        self = .null
    }
}
