internal import CSQLite

/// Owns the `sqlite3*` handle shared by an `SQLiteDatabase` and its statements.
///
/// A separate object so that statements can keep the handle alive and notice that it
/// was closed without retaining the database, whose statement cache retains them
/// (statement → database would be a retain cycle).
final class SQLiteConnection {
    /// Nil once closed.
    private(set) var handle: OpaquePointer?

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        close()
    }

    /// The open handle, or `SQLiteError.closed`.
    func openHandle() throws(SQLiteError) -> OpaquePointer {
        guard let handle else { throw SQLiteError.closed }
        return handle
    }

    /// Idempotent. Uses `sqlite3_close_v2` so that statements still held by callers do not
    /// make the close fail: the connection becomes a zombie, freed by SQLite when the last
    /// of them is finalized, and those statements throw `SQLiteError.closed` meanwhile.
    /// An open transaction is rolled back by SQLite.
    func close() {
        guard let handle else { return }
        self.handle = nil
        // close_v2 on a valid handle always returns SQLITE_OK (it defers the real close
        // rather than failing), so there is no error to report.
        sqlite3_close_v2(handle)
    }
}
