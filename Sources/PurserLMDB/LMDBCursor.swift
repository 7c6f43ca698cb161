import CLMDB

/// A position in one database of one transaction (`MDB_cursor`), backing ordered reads.
///
/// Internal because LMDB frees a write transaction's cursors when the transaction ends:
/// a cursor outliving its transaction would be closed twice. `LMDBTransaction` closes
/// each cursor before returning, and `deinit` is only a backstop for that same scope.
final class LMDBCursor {
    /// An entry as it lies in the memory map, valid until the cursor moves or the
    /// transaction modifies the database or ends.
    typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    private var handle: OpaquePointer?

    init(transaction: OpaquePointer, database: LMDBDatabase) throws(LMDBError) {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(transaction, database.handle, &cursor), "mdb_cursor_open")
        handle = cursor
    }

    deinit {
        close()
    }

    /// Idempotent, so an explicit close and deinit never free the cursor twice.
    func close() {
        guard let handle else { return }
        self.handle = nil
        mdb_cursor_close(handle)
    }

    /// Moves to the first entry with key `>= start`, or the first entry when `start` is nil.
    func seek(from start: [UInt8]?) throws(LMDBError) -> Entry? {
        let handle = validHandle()
        var key = MDB_val()
        var value = MDB_val()
        let code: Int32
        if let start {
            // The start key only has to live during the call; LMDB then points `key` at
            // the entry found, inside the map.
            code = start.withUnsafeBytes { startBytes in
                key = MDB_val(bytes: startBytes)
                return mdb_cursor_get(handle, &key, &value, MDB_SET_RANGE)
            }
        } else {
            code = mdb_cursor_get(handle, &key, &value, MDB_FIRST)
        }
        return try Self.entry(code, key, value)
    }

    /// Moves to the next entry in key order; nil past the last one.
    func next() throws(LMDBError) -> Entry? {
        var key = MDB_val()
        var value = MDB_val()
        let code = mdb_cursor_get(validHandle(), &key, &value, MDB_NEXT)
        return try Self.entry(code, key, value)
    }

    private func validHandle() -> OpaquePointer {
        guard let handle else {
            preconditionFailure("LMDBCursor used after close")
        }
        return handle
    }

    private static func entry(_ code: Int32, _ key: MDB_val, _ value: MDB_val) throws(LMDBError) -> Entry? {
        if code == MDB_NOTFOUND { return nil }
        try LMDBError.check(code, "mdb_cursor_get")
        return (key.rawBuffer, value.rawBuffer)
    }
}
