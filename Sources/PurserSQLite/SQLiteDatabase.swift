internal import CSQLite

/// One SQLite connection to a database file.
///
/// Use it from one thread at a time: it is opened with `SQLITE_OPEN_NOMUTEX`, so SQLite
/// does not serialize calls on it, and neither does this class. It is `Sendable` so that
/// it can be handed to the one task or thread that owns it (or guarded by the caller's
/// own lock); concurrent calls are a data race. Statements, cached or not, follow the
/// same rule. Open one connection per thread for parallel reads, which WAL allows.
///
/// Every failing SQLite call throws an `SQLiteError` carrying the extended result code
/// (`SQLITE_OPEN_EXRESCODE`), SQLite's message and the operation.
public final class SQLiteDatabase: @unchecked Sendable {
    public let path: String
    public let options: SQLiteOptions

    private let connection: SQLiteConnection
    /// Statements of `cachedStatement(_:)` by SQL text, finalized by `close()`.
    private var statementCache: [String: SQLiteStatement] = [:]
    /// The same statements by the address of the literal they were asked for with
    /// (`cachedStatement(literal:)`).
    private var literalStatementCache: [UInt: SQLiteStatement] = [:]
    /// Set during a `transaction` body, to catch nesting.
    private var isInsideTransaction = false

    /// Opens (creating it unless `options.readOnly`) the database file at `path`, then
    /// sets the busy timeout, WAL mode and `synchronous`.
    public init(path: String, options: SQLiteOptions = .init()) throws(SQLiteError) {
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        flags |= options.readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            // SQLite allocates a handle even when opening fails (so the message can be
            // read); it must still be closed. Without a handle, memory ran out.
            let error = SQLiteError(
                code: code == SQLITE_OK ? SQLITE_NOMEM : code,
                connection: handle,
                operation: "open \(path)"
            )
            sqlite3_close_v2(handle)
            throw error
        }
        self.path = path
        self.options = options
        self.connection = SQLiteConnection(handle: handle)

        do {
            // First, so that the pragmas below already wait for other connections' locks.
            try SQLiteError.check(
                sqlite3_busy_timeout(handle, options.busyTimeoutMilliseconds),
                handle,
                "busy timeout"
            )
            if options.journalModeWAL && !options.readOnly {
                try enableWriteAheadLog()
            }
            try execute("PRAGMA synchronous = \(options.synchronous.pragmaValue)")
            // A negative cache_size is in KiB.
            try execute("PRAGMA cache_size = -\(max(1, options.cacheSizeKibibytes))")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Closes the connection, finalizing cached statements. Idempotent. Afterwards every
    /// method throws `SQLiteError.closed` (code `SQLITE_MISUSE`, operation `"closed"`).
    /// An open transaction is rolled back. Statements the caller still holds keep
    /// SQLite's memory for the connection until they are released.
    public func close() {
        for statement in statementCache.values {
            statement.finalize()
        }
        statementCache.removeAll()
        literalStatementCache.removeAll()
        connection.close()
    }

    /// `cachedStatement(_:)` for SQL written as a string literal, found by the literal's address
    /// rather than by hashing its text: hashing the ledger's 400-byte INSERT on every event cost
    /// about 2,000 instructions (callgrind). It is the very statement `cachedStatement(_:)` gives
    /// for the same text.
    public func cachedStatement(literal sql: StaticString) throws(SQLiteError) -> SQLiteStatement {
        // A one-scalar literal has no address; such SQL is not worth a second cache.
        guard sql.hasPointerRepresentation else { return try cachedStatement(sql.description) }
        _ = try connection.openHandle()
        let address = UInt(bitPattern: sql.utf8Start)
        if let statement = literalStatementCache[address] {
            statement.prepareForReuse()
            return statement
        }
        let statement = try cachedStatement(sql.description)
        literalStatementCache[address] = statement
        return statement
    }

    /// Runs one or more `;`-separated statements that return no rows the caller needs
    /// (`sqlite3_exec`), e.g. a schema script. Rows a statement produces are discarded.
    public func execute(_ sql: String) throws(SQLiteError) {
        let handle = try connection.openHandle()
        var errorMessage: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        guard code != SQLITE_OK else { return }
        let message = errorMessage.map { String(cString: $0) }
        // sqlite3_exec allocates the message with sqlite3_malloc; sqlite3_free(NULL) is a no-op.
        sqlite3_free(errorMessage)
        if let message {
            throw SQLiteError(code: code, message: message, operation: "execute: \(sql)")
        }
        throw SQLiteError(code: code, connection: handle, operation: "execute: \(sql)")
    }

    /// Compiles exactly one statement. SQL holding more than one (other than trailing
    /// whitespace, comments or semicolons) is rejected, as the rest would never run.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try SQLiteStatement(connection: connection, sql: sql, isPersistent: false)
    }

    /// The statement for `sql`, compiled on first use and kept for the connection's
    /// lifetime; later calls return the same object, reset and with no pending bindings.
    /// For hot statements (the ledger's inserts), to compile them once.
    ///
    /// Only one user at a time: asking for a statement inside its own `forEachRow`
    /// body is a precondition failure.
    public func cachedStatement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        _ = try connection.openHandle()
        if let statement = statementCache[sql] {
            statement.prepareForReuse()
            return statement
        }
        let statement = try SQLiteStatement(connection: connection, sql: sql, isPersistent: true)
        statementCache[sql] = statement
        return statement
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`, and returns its result.
    ///
    /// `IMMEDIATE` takes the write lock up front, so a conflict surfaces as `isBusy` on
    /// `BEGIN` (after the busy timeout) instead of in the middle of the body. If `body`
    /// throws, the transaction is rolled back and `body`'s error rethrown. If `COMMIT`
    /// fails, the transaction is rolled back and that `SQLiteError` thrown, so the caller
    /// can retry the whole body. Nested calls are a precondition failure. Do not run
    /// `BEGIN`, `COMMIT` or `ROLLBACK` through `execute` inside `body`: the final `COMMIT`
    /// would then fail (or commit a different transaction).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        precondition(!isInsideTransaction, "SQLiteDatabase.transaction called inside another transaction")
        try execute("BEGIN IMMEDIATE")
        isInsideTransaction = true
        defer { isInsideTransaction = false }
        let result: T
        do {
            result = try body()
        } catch {
            rollbackIfActive()
            throw error
        }
        do {
            try execute("COMMIT")
        } catch {
            rollbackIfActive()
            throw error
        }
        return result
    }

    /// Rows changed by the most recent `INSERT`, `UPDATE` or `DELETE`; 0 once closed.
    public var changes: Int {
        guard let handle = connection.handle else { return 0 }
        return Int(sqlite3_changes64(handle))
    }

    /// The rowid of the most recent successful `INSERT` on this connection; 0 once closed.
    public var lastInsertRowID: Int64 {
        guard let handle = connection.handle else { return 0 }
        return sqlite3_last_insert_rowid(handle)
    }

    /// True while a transaction is open on this connection (`sqlite3_get_autocommit`).
    public var isInTransaction: Bool {
        guard let handle = connection.handle else { return false }
        return sqlite3_get_autocommit(handle) == 0
    }

    // MARK: - Helpers

    /// WAL is requested, then verified: SQLite answers with the mode actually in force and
    /// does not fail when it cannot switch (an in-memory database stays "memory").
    private func enableWriteAheadLog() throws(SQLiteError) {
        let sql = "PRAGMA journal_mode = WAL"
        let statement = try prepare(sql)
        let mode = try statement.firstRow()?.first
        guard case .text(let name)? = mode, name.lowercased() == "wal" else {
            throw SQLiteError(
                code: SQLITE_ERROR,
                message: "journal mode is \(mode.map { "\($0)" } ?? "unknown"), not wal",
                operation: sql
            )
        }
    }

    /// Some errors (`SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_NOMEM`, a busy `COMMIT`) may or
    /// may not have rolled the transaction back already; a second ROLLBACK would fail, so
    /// SQLite is asked first.
    private func rollbackIfActive() {
        guard let handle = connection.handle, sqlite3_get_autocommit(handle) == 0 else { return }
        // The error being thrown by the caller is the one to report. A failing ROLLBACK
        // leaves the transaction open; the next BEGIN then fails with its own typed error
        // rather than silently nesting.
        try? execute("ROLLBACK")
    }
}
