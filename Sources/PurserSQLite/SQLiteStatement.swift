internal import CSQLite

/// One prepared SQL statement (`sqlite3_stmt`), from `SQLiteDatabase.prepare(_:)` or
/// `cachedStatement(_:)`.
///
/// Belongs to its connection's thread rule: use it only where the database is used, one
/// thread at a time. Every method leaves the statement reset, so it can run again at once,
/// also after an error. After the database is closed every method throws
/// `SQLiteError.closed`.
public final class SQLiteStatement {
    /// The SQL as given to `prepare`, used in error operations.
    public let sql: String
    /// The number of `?` (or named) parameters, which `bind` requires values for.
    public let parameterCount: Int

    /// Nil once finalized (by `deinit`, or by `SQLiteDatabase.close()` for cached statements).
    private var handle: OpaquePointer?
    /// Retained so the handle's connection outlives the statement's use of it.
    private let connection: SQLiteConnection
    /// True between an explicit `bind(_:)` and the execution that consumes its values.
    private var hasExplicitBindings = false
    /// True while `forEachRow` steps the statement: using it again from the row body would
    /// reset the iteration under the caller's feet.
    private(set) var isIterating = false
    /// Changes at every step, finalize and end of iteration, so an `SQLiteRow` can tell
    /// that it no longer describes the current row.
    private(set) var rowToken: UInt64 = 0
    /// The bytes of the bound text and blob values, back to back. They are bound with
    /// `SQLITE_STATIC`, so SQLite reads them here instead of copying each value into a
    /// buffer of its own (callgrind: those copies, their allocations and `sqlite3_clear_bindings`
    /// were about a seventh of the ledger's instructions). SQLite may read a parameter until
    /// it is bound again or the statement is finalized, so this buffer is only ever replaced
    /// after every parameter has been bound into its successor, and freed after `finalize`.
    private var boundBytes: UnsafeMutableRawBufferPointer = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// Prepares the single statement in `sql`. `isPersistent` hints SQLite that the
    /// statement will be kept and reused (`SQLITE_PREPARE_PERSISTENT`).
    init(connection: SQLiteConnection, sql: String, isPersistent: Bool) throws(SQLiteError) {
        let database = try connection.openHandle()
        let flags = isPersistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        var statement: OpaquePointer?
        // The tail pointer only lives inside withCString, so it is inspected there and the
        // outcome carried out as a value.
        let failure: SQLiteError? = sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            let code = sqlite3_prepare_v3(database, text, -1, flags, &statement, &tail)
            if code != SQLITE_OK {
                return SQLiteError(code: code, connection: database, operation: "prepare: \(sql)")
            }
            if statement == nil {
                return SQLiteError(code: SQLITE_MISUSE, message: "no SQL statement", operation: "prepare: \(sql)")
            }
            // Anything after the first statement would silently never run.
            if let tail, !Self.isBlank(tail) {
                return SQLiteError(
                    code: SQLITE_MISUSE,
                    message: "more than one statement; use SQLiteDatabase.execute for scripts",
                    operation: "prepare: \(sql)"
                )
            }
            return nil
        }
        guard failure == nil, let statement else {
            // finalize(NULL) is a no-op, so this is safe whether or not prepare made one.
            sqlite3_finalize(statement)
            throw failure ?? SQLiteError(code: SQLITE_NOMEM, connection: database, operation: "prepare: \(sql)")
        }
        self.sql = sql
        self.connection = connection
        self.handle = statement
        self.parameterCount = Int(sqlite3_bind_parameter_count(statement))
    }

    deinit {
        finalize()
        boundBytes.deallocate()
    }

    /// Idempotent. Its result code only repeats the last step's error, already thrown.
    func finalize() {
        guard let handle else { return }
        self.handle = nil
        rowToken &+= 1
        sqlite3_finalize(handle)
    }

    // MARK: - Binding

    /// Binds `values` to the parameters in order, replacing all earlier bindings; the
    /// next `run()`, `forEachRow()` or `firstRow()` called without values uses them.
    /// Throws with `SQLITE_RANGE` unless `values.count == parameterCount`.
    public func bind(_ values: [SQLiteValue]) throws(SQLiteError) {
        let handle = try usableHandle()
        try bind(values, to: handle)
        hasExplicitBindings = true
    }

    private func bind(_ values: [SQLiteValue], to handle: OpaquePointer) throws(SQLiteError) {
        hasExplicitBindings = false
        guard values.count == parameterCount else {
            // No parameter was rebound, and no execution happens without a full binding
            // (`beginExecution` binds before every step), so the old values are never used.
            throw SQLiteError(
                code: SQLITE_RANGE,
                message: "expected \(parameterCount) values, got \(values.count)",
                operation: "bind: \(sql)"
            )
        }
        // Every text and blob value is copied into one buffer first; a larger one is allocated
        // when needed, and the old one freed only once nothing is bound to it any more.
        // One byte more than the values need, so that even an empty text at the end has an
        // address inside the buffer (a nil pointer would bind NULL, not "").
        var bytesNeeded = 1
        for value in values {
            switch value {
            case .text(let text): bytesNeeded += text.utf8.count
            case .blob(let bytes): bytesNeeded += bytes.count
            case .null, .integer: break
            }
        }
        var retired: UnsafeMutableRawBufferPointer?
        if bytesNeeded > boundBytes.count {
            retired = boundBytes
            boundBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytesNeeded, 2 * boundBytes.count), alignment: 1)
        }
        defer { retired?.deallocate() }
        var offset = 0
        for (position, value) in values.enumerated() {
            let index = Int32(position + 1)
            let code: Int32
            switch value {
            case .null:
                code = sqlite3_bind_null(handle, index)
            case .integer(let integer):
                code = sqlite3_bind_int64(handle, index, integer)
            case .text(let text):
                let start = offset
                offset += copyUTF8(of: text, at: start)
                // Bound by byte count rather than as a C string, so text containing NUL survives.
                // A nil pointer would bind NULL, not "": an empty value is given a real address.
                code = sqlite3_bind_text64(
                    handle, index, boundAddress(at: start).assumingMemoryBound(to: CChar.self),
                    UInt64(offset - start), Self.staticDestructor, UInt8(SQLITE_UTF8)
                )
            case .blob(let bytes):
                // An empty blob is bound as a zero-length blob; a nil pointer would bind NULL.
                if bytes.isEmpty {
                    code = sqlite3_bind_zeroblob(handle, index, 0)
                } else {
                    let start = offset
                    bytes.withUnsafeBytes { source in
                        boundBytes.baseAddress!.advanced(by: start).copyMemory(from: source.baseAddress!, byteCount: source.count)
                    }
                    offset += bytes.count
                    code = sqlite3_bind_blob64(handle, index, boundAddress(at: start), UInt64(bytes.count), Self.staticDestructor)
                }
            }
            if code != SQLITE_OK {
                // Leaves no mix of old and new values (nor a pointer into a retired buffer).
                let error = SQLiteError(code: code, connection: sqlite3_db_handle(handle), operation: "bind \(index): \(sql)")
                sqlite3_clear_bindings(handle)
                throw error
            }
        }
    }

    /// Copies `text`'s UTF-8 into `boundBytes` at `offset`; returns the byte count.
    private func copyUTF8(of text: String, at offset: Int) -> Int {
        var text = text
        return text.withUTF8 { source in
            guard let sourceAddress = source.baseAddress, source.count > 0 else { return 0 }
            boundBytes.baseAddress!.advanced(by: offset).copyMemory(from: sourceAddress, byteCount: source.count)
            return source.count
        }
    }

    /// The address of `boundBytes` at `offset`, which is inside the buffer even for an empty value
    /// at the end (it holds one byte more than the values).
    private func boundAddress(at offset: Int) -> UnsafeRawPointer {
        precondition(offset < boundBytes.count, "bound values outgrew their buffer")
        return UnsafeRawPointer(boundBytes.baseAddress!.advanced(by: offset))
    }

    /// `SQLITE_STATIC` (a null destructor): the bytes stay in `boundBytes` as long as SQLite
    /// may read them.
    private static var staticDestructor: sqlite3_destructor_type? { nil }

    // MARK: - Running

    /// Binds `values` (see `forEachRow` for an empty `values`), steps to completion and
    /// resets. A statement that returns a row is an error (`SQLITE_MISUSE`): rows are read
    /// with `forEachRow` or `firstRow`. Its side effects (an `INSERT … RETURNING`, say)
    /// may nevertheless have happened.
    public func run(_ values: [SQLiteValue] = []) throws(SQLiteError) {
        let handle = try beginExecution(values)
        let code = sqlite3_step(handle)
        if code == SQLITE_DONE {
            resetAfterExecution(handle)
            return
        }
        let error = if code == SQLITE_ROW {
            SQLiteError(
                code: SQLITE_MISUSE,
                message: "the statement returned a row; read rows with forEachRow or firstRow",
                operation: "run: \(sql)"
            )
        } else {
            // Read before the reset, which would overwrite the connection's message.
            SQLiteError(code: code, connection: sqlite3_db_handle(handle), operation: "step: \(sql)")
        }
        resetAfterExecution(handle)
        throw error
    }

    /// Binds `values`, then calls `body` for each result row, and resets the statement
    /// afterwards even if `body` or a step throws.
    ///
    /// With empty `values`, a statement that has parameters uses the values of the
    /// preceding `bind(_:)`, and throws if there was none. `body` must not use this same
    /// statement (a precondition), and the row must not be used after `body` returns.
    public func forEachRow(_ values: [SQLiteValue] = [], _ body: (SQLiteRow) throws -> Void) throws {
        let handle = try beginExecution(values)
        isIterating = true
        defer {
            isIterating = false
            rowToken &+= 1
            // Nil when `body` closed the database, which finalized this statement.
            if self.handle != nil { resetAfterExecution(handle) }
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                throw SQLiteError(code: code, connection: sqlite3_db_handle(handle), operation: "step: \(sql)")
            }
            rowToken &+= 1
            try body(SQLiteRow(statement: self, handle: handle, token: rowToken))
            // `body` may have closed the database; stepping then would be a use after free.
            guard self.handle != nil, connection.handle != nil else { throw SQLiteError.closed }
        }
    }

    /// The first result row's values, or nil when there is none; the remaining rows are
    /// not computed. Binds like `forEachRow`.
    public func firstRow(_ values: [SQLiteValue] = []) throws(SQLiteError) -> [SQLiteValue]? {
        let handle = try beginExecution(values)
        defer { resetAfterExecution(handle) }
        switch sqlite3_step(handle) {
        case SQLITE_DONE:
            return nil
        case SQLITE_ROW:
            rowToken &+= 1
            let row = SQLiteRow(statement: self, handle: handle, token: rowToken)
            defer { rowToken &+= 1 }
            return (0..<row.count).map { row.value($0) }
        case let code:
            throw SQLiteError(code: code, connection: sqlite3_db_handle(handle), operation: "step: \(sql)")
        }
    }

    /// Called by `SQLiteDatabase.cachedStatement(_:)` before handing the statement out again.
    func prepareForReuse() {
        precondition(!isIterating, "cachedStatement(\(sql)) requested inside its own forEachRow")
        hasExplicitBindings = false
        // Every execution already resets; this is a backstop. Its result only repeats the
        // last step's error, which was thrown then.
        if let handle { sqlite3_reset(handle) }
    }

    // MARK: - Helpers

    private func usableHandle() throws(SQLiteError) -> OpaquePointer {
        guard let handle, connection.handle != nil else { throw SQLiteError.closed }
        precondition(!isIterating, "SQLiteStatement used inside its own forEachRow: \(sql)")
        return handle
    }

    /// Binds `values` unless they are empty and an explicit `bind(_:)` is pending.
    private func beginExecution(_ values: [SQLiteValue]) throws(SQLiteError) -> OpaquePointer {
        let handle = try usableHandle()
        if !values.isEmpty || !hasExplicitBindings {
            try bind(values, to: handle)
        }
        hasExplicitBindings = false
        return handle
    }

    private func resetAfterExecution(_ handle: OpaquePointer) {
        // sqlite3_reset returns the error of the last step, which the caller has already
        // turned into a thrown error; the reset itself cannot fail.
        sqlite3_reset(handle)
    }

    /// True when `text` holds only whitespace, comments and semicolons.
    private static func isBlank(_ text: UnsafePointer<CChar>) -> Bool {
        var cursor = UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self)
        while true {
            switch cursor.pointee {
            case 0:
                return true
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
                 0x0B, 0x0C, UInt8(ascii: ";"):
                cursor += 1
            case UInt8(ascii: "-") where cursor[1] == UInt8(ascii: "-"):
                while cursor.pointee != 0, cursor.pointee != UInt8(ascii: "\n") { cursor += 1 }
            case UInt8(ascii: "/") where cursor[1] == UInt8(ascii: "*"):
                cursor += 2
                while cursor.pointee != 0, !(cursor.pointee == UInt8(ascii: "*") && cursor[1] == UInt8(ascii: "/")) {
                    cursor += 1
                }
                // An unterminated comment runs to the end, as SQLite reads it.
                if cursor.pointee != 0 { cursor += 2 }
            default:
                return false
            }
        }
    }
}
