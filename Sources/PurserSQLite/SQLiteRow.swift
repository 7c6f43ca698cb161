internal import CSQLite

/// The current result row of a statement, handed to the body of
/// `SQLiteStatement.forEachRow(_:_:)`.
///
/// Valid only inside that body: the row reads the statement's current position, which
/// moves on when the body returns. Using a row afterwards, or a column index outside
/// `0..<count`, is a programmer error and stops the process with a precondition failure
/// rather than reading another row's (or freed) memory.
///
/// The typed accessors are strict about storage classes, because silently converting
/// (SQLite would truncate a `REAL` to an integer, or parse text) is how money goes wrong.
/// Reading a column of the wrong class is a precondition failure; `value(_:)` accepts
/// every class.
public struct SQLiteRow {
    private let statement: SQLiteStatement
    private let handle: OpaquePointer
    private let token: UInt64

    init(statement: SQLiteStatement, handle: OpaquePointer, token: UInt64) {
        self.statement = statement
        self.handle = handle
        self.token = token
    }

    /// The number of result columns.
    public var count: Int {
        checkCurrent()
        return Int(sqlite3_column_count(handle))
    }

    /// An `INTEGER` column. `NULL` reads as 0, which is what `SUM` over no rows means for
    /// Purser's counters; use `optionalInt64` where NULL must stay distinct.
    public func int64(_ index: Int) -> Int64 {
        optionalInt64(index) ?? 0
    }

    /// An `INTEGER` column, nil for `NULL`.
    public func optionalInt64(_ index: Int) -> Int64? {
        let column = validColumn(index)
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER:
            return sqlite3_column_int64(handle, column)
        case SQLITE_NULL:
            return nil
        case let type:
            preconditionFailure("column \(index) (\(name(index))) holds \(Self.describe(type)), not INTEGER")
        }
    }

    /// A `TEXT` column. `NULL` reads as ""; use `optionalText` where NULL must stay distinct.
    public func text(_ index: Int) -> String {
        optionalText(index) ?? ""
    }

    /// A `TEXT` column, nil for `NULL`.
    public func optionalText(_ index: Int) -> String? {
        let column = validColumn(index)
        switch sqlite3_column_type(handle, column) {
        case SQLITE_TEXT:
            return readText(column)
        case SQLITE_NULL:
            return nil
        case let type:
            preconditionFailure("column \(index) (\(name(index))) holds \(Self.describe(type)), not TEXT")
        }
    }

    /// Any column, by its storage class. A `REAL` value, which Purser never stores (money
    /// is `Int64` micros), is returned as `.text` holding SQLite's own rendering of it
    /// (`"1.5"`), so it is visible without this API ever handing out a floating-point number.
    public func value(_ index: Int) -> SQLiteValue {
        let column = validColumn(index)
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(handle, column))
        case SQLITE_TEXT, SQLITE_FLOAT:
            return .text(readText(column))
        case SQLITE_BLOB:
            // Pointer first, then size: the documented order, as the pointer call may
            // convert the value.
            let bytes = sqlite3_column_blob(handle, column)
            let count = Int(sqlite3_column_bytes(handle, column))
            guard let bytes, count > 0 else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }

    /// The column's name: its `AS` alias, else SQLite's choice (usually the expression).
    public func name(_ index: Int) -> String {
        let column = validColumn(index)
        // Nil only when SQLite runs out of memory.
        return sqlite3_column_name(handle, column).map { String(cString: $0) } ?? ""
    }

    // MARK: - Helpers

    /// Reads by byte count, so text containing NUL is returned whole. Invalid UTF-8 (which
    /// only a foreign writer could store) is repaired with U+FFFD rather than trapping.
    private func readText(_ column: Int32) -> String {
        let characters = sqlite3_column_text(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        guard let characters, count > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: characters, count: count), as: UTF8.self)
    }

    private func checkCurrent() {
        precondition(
            statement.rowToken == token,
            "SQLiteRow used after its forEachRow body returned: \(statement.sql)"
        )
    }

    private func validColumn(_ index: Int) -> Int32 {
        checkCurrent()
        // Out-of-range indexes are undefined behaviour in the C API.
        precondition(
            index >= 0 && index < Int(sqlite3_column_count(handle)),
            "column index \(index) out of range for \(statement.sql)"
        )
        return Int32(index)
    }

    private static func describe(_ type: Int32) -> String {
        switch type {
        case SQLITE_INTEGER: "INTEGER"
        case SQLITE_FLOAT: "REAL"
        case SQLITE_TEXT: "TEXT"
        case SQLITE_BLOB: "BLOB"
        default: "NULL"
        }
    }
}
