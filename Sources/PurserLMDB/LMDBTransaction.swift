import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read or write transaction, handed to the closure of `LMDBEnvironment.read(_:)` or
/// `write(_:)`.
///
/// It is valid only inside that closure and on the thread running it: do not store it,
/// return it, or pass it to another task. Using it afterwards is a programmer error and
/// stops the process with a precondition failure rather than touching freed memory.
public final class LMDBTransaction {
    public let isReadOnly: Bool
    /// Retained so the environment cannot be closed under a running transaction.
    private let environment: LMDBEnvironment
    /// Nil once committed or aborted: LMDB frees the transaction at that point.
    private var handle: OpaquePointer?
    /// Where a write transaction records its changes, when the caller asked for it.
    let writeLog: LMDBWriteLog?

    init(environment: LMDBEnvironment, handle: OpaquePointer, isReadOnly: Bool, writeLog: LMDBWriteLog? = nil) {
        self.environment = environment
        self.handle = handle
        self.isReadOnly = isReadOnly
        self.writeLog = writeLog
    }

    /// LMDB's id of this transaction (`mdb_txn_id`): for a write transaction, the id its commit
    /// will have if it changes anything (one more than the last committed).
    public var id: UInt64 {
        UInt64(mdb_txn_id(validHandle()))
    }

    deinit {
        // read/write end every transaction before returning, so this is a backstop only:
        // an unended transaction would hold a reader slot or the writer lock forever.
        if handle != nil { abort() }
    }

    // MARK: - Reading

    /// The value stored under `key`, copied out of the map; nil if absent.
    public func get(_ database: LMDBDatabase, key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        try lookUp(database, key: key).map { Array($0) }
    }

    /// Zero-copy read: `body` sees the value inside the memory map, or nil if `key` is absent.
    ///
    /// The buffer is valid only during `body`, and in a write transaction only until the
    /// next modification, so do not write through this transaction from inside `body`.
    ///
    /// Inlinable so that callers in other modules get it specialized for their `T`: unspecialized,
    /// each call looked up generic metadata at run time, and the store reads through this several
    /// times per authorize.
    @inlinable
    public func withValue<T>(
        _ database: LMDBDatabase,
        key: [UInt8],
        _ body: (UnsafeRawBufferPointer?) throws -> T
    ) throws -> T {
        try body(lookUp(database, key: key))
    }

    /// The number of entries in `database` (`mdb_stat`), as seen by this transaction.
    public func count(_ database: LMDBDatabase) throws(LMDBError) -> Int {
        let handle = validHandle()
        var statistics = MDB_stat()
        try LMDBError.check(mdb_stat(handle, database.handle, &statistics), "mdb_stat")
        return statistics.ms_entries
    }

    /// Visits entries in key order, starting at the first key `>= start` (at the first
    /// key when `start` is nil), until `body` returns false or the entries run out.
    ///
    /// Keys and values are copied, so in a write transaction `body` may modify the
    /// database, including deleting the entry it is visiting; LMDB keeps the cursor
    /// consistent.
    public func forEach(
        _ database: LMDBDatabase,
        from start: [UInt8]? = nil,
        _ body: ([UInt8], [UInt8]) throws -> Bool
    ) throws {
        if let start { try validate(key: start, for: database) }
        let cursor = try LMDBCursor(transaction: validHandle(), database: database)
        // A cursor must be closed before its transaction ends, so not left to deinit.
        defer { cursor.close() }
        var entry = try cursor.seek(from: start)
        while let (key, value) = entry {
            guard try body(Array(key), Array(value)) else { return }
            entry = try cursor.next()
        }
    }

    /// Visits every entry in key order without copying it: `body` sees LMDB's own memory, valid
    /// only during that call, and must not write to the database. For comparing a whole database
    /// against something (a policy reload reads 200,000 entries), where copies dominate.
    public func forEachBorrowing(
        _ database: LMDBDatabase,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let cursor = try LMDBCursor(transaction: validHandle(), database: database)
        defer { cursor.close() }
        var entry = try cursor.seek(from: nil)
        while let (key, value) = entry {
            try body(key, value)
            entry = try cursor.next()
        }
    }

    /// The first entry whose key is `>= start` (the very first when `start` is nil), or nil.
    public func first(_ database: LMDBDatabase, from start: [UInt8]? = nil) throws(LMDBError) -> (key: [UInt8], value: [UInt8])? {
        if let start { try validate(key: start, for: database) }
        let cursor = try LMDBCursor(transaction: validHandle(), database: database)
        defer { cursor.close() }
        guard let (key, value) = try cursor.seek(from: start) else { return nil }
        return (Array(key), Array(value))
    }

    // MARK: - Writing

    /// Stores `value` under `key`, replacing any previous value.
    public func put(_ database: LMDBDatabase, key: [UInt8], value: [UInt8]) throws(LMDBError) {
        _ = try put(database, key: key, value: value, flags: 0)
        writeLog?.recordPut(database, key: key, value: value)
    }

    /// Stores `value` under `key` only if the key is absent (`MDB_NOOVERWRITE`).
    /// Returns false, leaving the existing value, when the key is present.
    public func putIfAbsent(_ database: LMDBDatabase, key: [UInt8], value: [UInt8]) throws(LMDBError) -> Bool {
        let isStored = try put(database, key: key, value: value, flags: UInt32(MDB_NOOVERWRITE))
        if isStored { writeLog?.recordPut(database, key: key, value: value) }
        return isStored
    }

    /// Removes `key`. Returns false if it was absent.
    @discardableResult
    public func delete(_ database: LMDBDatabase, key: [UInt8]) throws(LMDBError) -> Bool {
        let handle = validWriteHandle()
        try validate(key: key, for: database)
        let code = key.withUnsafeBytes { keyBytes in
            var keyValue = MDB_val(bytes: keyBytes)
            return mdb_del(handle, database.handle, &keyValue, nil)
        }
        if code == MDB_NOTFOUND { return false }
        try LMDBError.check(code, "mdb_del")
        writeLog?.recordDelete(database, key: key)
        return true
    }

    /// Removes every entry, keeping the database itself (`mdb_drop` with `del: 0`).
    public func removeAll(_ database: LMDBDatabase) throws(LMDBError) {
        let handle = validWriteHandle()
        try LMDBError.check(mdb_drop(handle, database.handle, 0), "mdb_drop")
        writeLog?.recordRemoveAll(database)
    }

    /// Returns false when `MDB_NOOVERWRITE` finds the key present.
    private func put(_ database: LMDBDatabase, key: [UInt8], value: [UInt8], flags: UInt32) throws(LMDBError) -> Bool {
        let handle = validWriteHandle()
        try validate(key: key, for: database)
        let code = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var keyValue = MDB_val(bytes: keyBytes)
                var valueValue = MDB_val(bytes: valueBytes)
                return mdb_put(handle, database.handle, &keyValue, &valueValue, flags)
            }
        }
        if code == MDB_KEYEXIST, flags & UInt32(MDB_NOOVERWRITE) != 0 { return false }
        try LMDBError.check(code, "mdb_put")
        return true
    }

    // MARK: - Lifecycle (used by LMDBEnvironment)

    func openDatabase(named name: String, flags: LMDBDatabaseFlags) throws(LMDBError) -> LMDBDatabase {
        let handle = validWriteHandle()
        // A write log names databases in one length byte.
        guard !name.utf8.isEmpty, name.utf8.count <= Int(UInt8.max) else {
            throw LMDBError(code: EINVAL, operation: "mdb_dbi_open")
        }
        var database: MDB_dbi = 0
        try LMDBError.check(
            mdb_dbi_open(handle, name, flags.rawValue | UInt32(MDB_CREATE), &database),
            "mdb_dbi_open"
        )
        // An existing database keeps the flags it was created with; record those.
        var storedFlags: UInt32 = 0
        try LMDBError.check(mdb_dbi_flags(handle, database, &storedFlags), "mdb_dbi_flags")
        let knownFlags = LMDBDatabaseFlags(rawValue: storedFlags).intersection(.known)
        return LMDBDatabase(name: name, flags: knownFlags, handle: database)
    }

    func commit() throws(LMDBError) {
        let handle = validHandle()
        // LMDB frees the transaction even when the commit fails, so forget it first.
        self.handle = nil
        let code = mdb_txn_commit(handle)
        environment.transactionDidEnd(isReadOnly: isReadOnly)
        try LMDBError.check(code, "mdb_txn_commit")
    }

    func abort() {
        guard let handle else { return }
        self.handle = nil
        mdb_txn_abort(handle)
        environment.transactionDidEnd(isReadOnly: isReadOnly)
    }

    // MARK: - Checks

    /// The value in the map under `key`; valid until the transaction ends or next modifies.
    @usableFromInline
    func lookUp(_ database: LMDBDatabase, key: [UInt8]) throws(LMDBError) -> UnsafeRawBufferPointer? {
        let handle = validHandle()
        try validate(key: key, for: database)
        var value = MDB_val()
        let code = key.withUnsafeBytes { keyBytes in
            var keyValue = MDB_val(bytes: keyBytes)
            return mdb_get(handle, database.handle, &keyValue, &value)
        }
        if code == MDB_NOTFOUND { return nil }
        try LMDBError.check(code, "mdb_get")
        return value.rawBuffer
    }

    private func validHandle() -> OpaquePointer {
        guard let handle else {
            preconditionFailure("LMDBTransaction used after its read/write closure returned")
        }
        return handle
    }

    private func validWriteHandle() -> OpaquePointer {
        precondition(!isReadOnly, "LMDBTransaction: cannot modify the database in a read transaction")
        return validHandle()
    }

    /// LMDB rejects empty and oversized keys; checking first gives one clear error.
    private func validate(key: [UInt8], for database: LMDBDatabase) throws(LMDBError) {
        guard !key.isEmpty, key.count <= environment.keySizeMaxBytes else {
            throw LMDBError.invalidKeySize
        }
        if database.flags.contains(.integerKey), key.count != MemoryLayout<UInt32>.size, key.count != MemoryLayout<UInt64>.size {
            throw LMDBError.invalidKeySize
        }
    }
}
