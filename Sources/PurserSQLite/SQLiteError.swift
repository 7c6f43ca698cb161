internal import CSQLite

/// A failed SQLite call, or a misuse of this wrapper that SQLite itself would reject.
///
/// The raw extended `code` is kept rather than mapped to an enum so that no SQLite code
/// is ever lost (connections are opened with `SQLITE_OPEN_EXRESCODE`, so `code` is e.g.
/// `SQLITE_CONSTRAINT_UNIQUE`, not just `SQLITE_CONSTRAINT`). The `is…` properties test
/// the primary code, which is what callers decide on.
public struct SQLiteError: Error, Equatable, Hashable, CustomStringConvertible {
    /// The extended result code (`SQLITE_*`).
    public let code: Int32
    /// `sqlite3_errmsg` of the connection right after the failure, or `sqlite3_errstr`
    /// when there was no connection to ask.
    public let message: String
    /// What was being done: `"open /path"`, `"prepare: SELECT …"`, `"step: INSERT …"`,
    /// `"bind 2: INSERT …"`, `"execute: COMMIT"`, or `"closed"`.
    public let operation: String

    public init(code: Int32, message: String, operation: String) {
        self.code = code
        self.message = message
        self.operation = operation
    }

    /// An error whose message is read from `connection` at once: `sqlite3_errmsg` describes
    /// only the most recent call, so any later call on the connection would overwrite it.
    init(code: Int32, connection: OpaquePointer?, operation: String) {
        let message: String
        if let connection, let text = sqlite3_errmsg(connection) {
            message = String(cString: text)
        } else {
            message = Self.describe(code)
        }
        self.init(code: code, message: message, operation: operation)
    }

    /// The primary result code: the low byte of the extended code.
    public var primaryCode: Int32 { code & 0xFF }

    /// Another connection held the lock for longer than `busyTimeoutMilliseconds`.
    /// Retrying later is safe: nothing was written.
    public var isBusy: Bool { primaryCode == SQLITE_BUSY }

    /// `SQLITE_FULL`: the disk, or the `max_page_count` limit, is full. The statement (and
    /// possibly its transaction) was rolled back.
    public var isFull: Bool { primaryCode == SQLITE_FULL }

    /// A `UNIQUE`, `NOT NULL`, `CHECK`, `PRIMARY KEY` or foreign-key constraint failed;
    /// `code` says which.
    public var isConstraint: Bool { primaryCode == SQLITE_CONSTRAINT }

    /// A write through a read-only connection or onto a read-only file.
    public var isReadOnly: Bool { primaryCode == SQLITE_READONLY }

    /// Any `SQLITE_IOERR_*`: the operating system failed a read, write, fsync or lock.
    public var isIOError: Bool { primaryCode == SQLITE_IOERR }

    /// The database file (or its directory, or its `-wal`/`-shm` files) could not be opened.
    public var isCantOpen: Bool { primaryCode == SQLITE_CANTOPEN }

    /// The database was closed with `SQLiteDatabase.close()` before this call.
    public var isClosed: Bool { self == .closed }

    public var description: String {
        "\(operation): \(message) (\(Self.describe(code)), code \(code))"
    }

    /// Thrown instead of touching a closed connection's freed handle.
    public static let closed = SQLiteError(
        code: SQLITE_MISUSE,
        message: "the database connection is closed",
        operation: "closed"
    )

    /// SQLite's fixed English text for `code`, independent of any connection.
    static func describe(_ code: Int32) -> String {
        sqlite3_errstr(code).map { String(cString: $0) } ?? "unknown error"
    }

    /// Turns a C result code into a thrown error; `SQLITE_OK` passes through.
    ///
    /// `operation` is an autoclosure so hot paths (a bind per value of 10,000 inserts)
    /// do not build a string that is only needed on failure.
    @inline(__always)
    static func check(
        _ code: Int32,
        _ connection: OpaquePointer?,
        _ operation: @autoclosure () -> String
    ) throws(SQLiteError) {
        if code != SQLITE_OK {
            throw SQLiteError(code: code, connection: connection, operation: operation())
        }
    }
}
