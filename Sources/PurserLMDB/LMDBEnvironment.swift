import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An open LMDB environment: one directory holding `data.mdb` and `lock.mdb`.
///
/// Safe to share between threads and tasks. Every read and write runs inside a closure
/// (`read(_:)`, `write(_:)`) so that transactions cannot outlive their scope.
/// Write transactions are serialized by LMDB: `write(_:)` blocks the calling thread
/// until the writer lock is free, so keep write bodies short.
public final class LMDBEnvironment: @unchecked Sendable {
    /// Mutable state shared by all threads; only touched while holding `stateMutex`.
    private struct State {
        /// Nil once the environment is closed.
        var handle: OpaquePointer?
        var isCloseRequested = false
        /// Transactions and in-flight calls using `handle`. `close()` defers the real
        /// `mdb_env_close` until this drops to zero, so no thread ever uses a freed handle.
        var leasesCount = 0
        /// The thread running the write transaction, to catch a nested `write` on the
        /// same thread, which would otherwise deadlock on LMDB's writer mutex forever.
        var writerThread: pthread_t?
    }

    // @unchecked Sendable is sound because `state` is only accessed under this mutex and
    // the remaining stored properties are immutable.
    private let stateMutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    /// The directory holding the environment.
    public let path: String
    /// The largest key LMDB accepts (`mdb_env_get_maxkeysize`, 511 in Debian's build).
    public let keySizeMaxBytes: Int

    /// Opens the environment in directory `path`, creating the directory (mode 0700)
    /// and the database files when missing.
    ///
    /// Always uses `MDB_NOTLS`: read transactions are not tied to a thread, because Swift
    /// concurrency may resume a task on another thread.
    public init(path: String, options: LMDBEnvironmentOptions = .init()) throws(LMDBError) {
        guard options.mapSizeBytes > 0 else {
            throw LMDBError(code: EINVAL, operation: "mdb_env_set_mapsize")
        }
        guard let databasesCountMax = UInt32(exactly: options.databasesCountMax) else {
            throw LMDBError(code: EINVAL, operation: "mdb_env_set_maxdbs")
        }
        guard options.readersCountMax > 0, let readersCountMax = UInt32(exactly: options.readersCountMax) else {
            throw LMDBError(code: EINVAL, operation: "mdb_env_set_maxreaders")
        }
        try Self.createDirectoryIfMissing(path)

        var environment: OpaquePointer?
        try LMDBError.check(mdb_env_create(&environment), "mdb_env_create")
        guard let environment else {
            throw LMDBError(code: ENOMEM, operation: "mdb_env_create")
        }
        var flags = UInt32(MDB_NOTLS)
        if options.noSync { flags |= UInt32(MDB_NOSYNC) }
        if options.noMetaSync { flags |= UInt32(MDB_NOMETASYNC) }
        if options.writeMap { flags |= UInt32(MDB_WRITEMAP) }
        do {
            try LMDBError.check(mdb_env_set_mapsize(environment, options.mapSizeBytes), "mdb_env_set_mapsize")
            try LMDBError.check(mdb_env_set_maxdbs(environment, databasesCountMax), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(environment, readersCountMax), "mdb_env_set_maxreaders")
            try LMDBError.check(mdb_env_open(environment, path, flags, options.fileMode), "mdb_env_open")
        } catch {
            // LMDB requires the handle to be closed even when opening failed.
            mdb_env_close(environment)
            throw error
        }

        self.path = path
        self.keySizeMaxBytes = Int(mdb_env_get_maxkeysize(environment))
        self.state = State(handle: environment)
        self.stateMutex = .allocate(capacity: 1)
        // A failed init here would leave the mutex unusable; it cannot fail for a default mutex.
        pthread_mutex_init(stateMutex, nil)
    }

    deinit {
        // Transactions retain the environment, so no lease can be outstanding here.
        if let handle = state.handle {
            mdb_env_close(handle)
        }
        pthread_mutex_destroy(stateMutex)
        stateMutex.deallocate()
    }

    /// Closes the environment. Idempotent. If transactions are still running (on other
    /// threads, or the caller's own), the handle is released when the last one ends.
    /// Afterwards every method throws an error with `isClosed`.
    public func close() {
        withState { state in
            guard !state.isCloseRequested else { return }
            state.isCloseRequested = true
            Self.closeHandleIfDrained(&state)
        }
    }

    /// Opens, creating it if needed, the named database `name`. LMDB needs a write
    /// transaction for this, so call it at startup rather than on hot paths.
    public func openDatabase(named name: String, flags: LMDBDatabaseFlags = []) throws(LMDBError) -> LMDBDatabase {
        let transaction = try beginTransaction(isReadOnly: false)
        let database: LMDBDatabase
        do {
            database = try transaction.openDatabase(named: name, flags: flags)
        } catch {
            transaction.abort()
            throw error
        }
        // The handle only becomes visible to other transactions once this commit succeeds.
        try transaction.commit()
        return database
    }

    /// Runs `body` in a write transaction, committing if it returns and aborting if it
    /// throws. Rethrows `body`'s error; throws `LMDBError` when beginning or committing fails
    /// (a failed commit has written nothing).
    ///
    /// Must not be nested inside another `write` on the same thread (checked by a precondition).
    public func write<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        try write(log: nil, body)
    }

    /// The same, recording every change the transaction makes into `log` (after what it already
    /// holds), for a redo journal. Changes of a transaction that aborts are recorded too: the
    /// caller discards the log when this throws.
    public func write<T>(log: LMDBWriteLog?, _ body: (LMDBTransaction) throws -> T) throws -> T {
        let transaction = try beginTransaction(isReadOnly: false, writeLog: log)
        let result: T
        do {
            result = try body(transaction)
        } catch {
            transaction.abort()
            throw error
        }
        try transaction.commit()
        return result
    }

    /// Runs `body` in a read-only transaction that sees a consistent snapshot of the
    /// database as of its start, unaffected by later commits. Always aborted at the end,
    /// as read transactions have nothing to commit.
    public func read<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        let transaction = try beginTransaction(isReadOnly: true)
        defer { transaction.abort() }
        return try body(transaction)
    }

    /// The data file, `data.mdb`, in the environment's directory.
    public var dataFilePath: String { path + "/data.mdb" }

    /// Opens a read transaction on the last committed snapshot and keeps it open until the pin is
    /// released: see `LMDBSnapshotPin`. Takes a reader slot.
    public func pinSnapshot() throws(LMDBError) -> LMDBSnapshotPin {
        LMDBSnapshotPin(transaction: try beginTransaction(isReadOnly: true))
    }

    /// Flushes written data to disk (`mdb_env_sync`). Needed for durability with
    /// `noSync`/`noMetaSync`; `force` flushes even when those options say not to.
    public func sync(force: Bool) throws(LMDBError) {
        let handle = try acquireHandle()
        defer { releaseHandle() }
        try LMDBError.check(mdb_env_sync(handle, force ? 1 : 0), "mdb_env_sync")
    }

    /// Changes the memory map size, e.g. to grow it after `isMapFull`.
    ///
    /// LMDB only allows this when no transaction is active in the process, so this throws
    /// `EBUSY` rather than racing with one; retry once in-flight work has ended.
    /// A size below the space already used is raised by LMDB to that minimum.
    public func setMapSize(bytes: Int) throws(LMDBError) {
        guard bytes > 0 else {
            throw LMDBError(code: EINVAL, operation: "mdb_env_set_mapsize")
        }
        // Held for the whole call so no transaction can begin while the map is replaced.
        try withState { (state: inout State) throws(LMDBError) in
            guard let handle = state.handle, !state.isCloseRequested else { throw LMDBError.closed }
            guard state.leasesCount == 0 else {
                throw LMDBError(code: EBUSY, operation: "mdb_env_set_mapsize")
            }
            try LMDBError.check(mdb_env_set_mapsize(handle, bytes), "mdb_env_set_mapsize")
        }
    }

    /// Map size, page and transaction counters, and reader slots (`mdb_env_info`).
    public var info: LMDBEnvironmentInfo {
        get throws(LMDBError) {
            let handle = try acquireHandle()
            defer { releaseHandle() }
            var info = MDB_envinfo()
            try LMDBError.check(mdb_env_info(handle, &info), "mdb_env_info")
            return LMDBEnvironmentInfo(
                mapSizeBytes: info.me_mapsize,
                lastPageNumber: info.me_last_pgno,
                lastTransactionID: info.me_last_txnid,
                readersCountMax: Int(info.me_maxreaders),
                readersCountUsed: Int(info.me_numreaders)
            )
        }
    }

    /// The database page size (`mdb_env_stat`), which is the OS page size.
    public var pageSizeBytes: Int {
        get throws(LMDBError) {
            let handle = try acquireHandle()
            defer { releaseHandle() }
            var statistics = MDB_stat()
            try LMDBError.check(mdb_env_stat(handle, &statistics), "mdb_env_stat")
            return Int(statistics.ms_psize)
        }
    }

    /// Frees reader slots left behind by processes that died mid-read (`mdb_reader_check`),
    /// returning how many were freed. Worth calling at daemon startup after a crash.
    @discardableResult
    public func clearStaleReaders() throws(LMDBError) -> Int {
        let handle = try acquireHandle()
        defer { releaseHandle() }
        var clearedCount: Int32 = 0
        try LMDBError.check(mdb_reader_check(handle, &clearedCount), "mdb_reader_check")
        return Int(clearedCount)
    }

    /// Drops this process's mappings of the data file's pages (`madvise(MADV_DONTNEED)`). The
    /// pages stay in the OS page cache, and the next read maps the one it needs again (a minor
    /// fault). Worth calling after a scan that touched most of the file, such as a policy
    /// reload's diff: those pages would otherwise count in the process's RSS until the kernel
    /// wants them back.
    ///
    /// Safe with transactions running: the map is a shared file mapping, so no byte is lost (with
    /// `MDB_WRITEMAP` the kernel keeps dirty pages dirty), and a page touched again faults back
    /// the same bytes. LMDB does not say where its map is (`mdb_env_info` reports an address only
    /// for `MDB_FIXEDMAP`), so the mapping is found by the data file's name in /proc/self/maps;
    /// where that file does not exist (not Linux), this does nothing.
    public func releaseMappedPages() throws(LMDBError) {
        // Leased so that the environment cannot close meanwhile: its range unmapped and reused by
        // another mapping would be zeroed by MADV_DONTNEED.
        _ = try acquireHandle()
        defer { releaseHandle() }
        guard let resolved = realpath(path + "/data.mdb", nil) else {
            throw LMDBError(code: errno, operation: "realpath")
        }
        let dataFilePath = String(cString: resolved)
        free(resolved)
        guard let maps = fopen("/proc/self/maps", "r") else { return }
        defer { fclose(maps) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, maps) > 0, let line {
            // "START-END PERMS OFFSET DEVICE INODE PATH", addresses in hex.
            let text = String(cString: line)
            guard text.hasSuffix(" " + dataFilePath + "\n") || text.hasSuffix(" " + dataFilePath) else { continue }
            let range = text.prefix { $0 != " " }.split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16), end > start,
                  let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            guard madvise(address, Int(end - start), MADV_DONTNEED) == 0 else {
                throw LMDBError(code: errno, operation: "madvise")
            }
        }
    }

    // MARK: - Transactions

    private func beginTransaction(isReadOnly: Bool, writeLog: LMDBWriteLog? = nil) throws(LMDBError) -> LMDBTransaction {
        let handle = try acquireHandle(isWriter: !isReadOnly)
        var transaction: OpaquePointer?
        // Not under stateMutex: a write begin blocks until the current writer commits.
        let code = mdb_txn_begin(handle, nil, isReadOnly ? UInt32(MDB_RDONLY) : 0, &transaction)
        guard code == MDB_SUCCESS, let transaction else {
            releaseHandle(isWriter: !isReadOnly)
            throw LMDBError(code: code == MDB_SUCCESS ? ENOMEM : code, operation: "mdb_txn_begin")
        }
        if !isReadOnly {
            withState { state in state.writerThread = pthread_self() }
        }
        return LMDBTransaction(environment: self, handle: transaction, isReadOnly: isReadOnly, writeLog: writeLog)
    }

    /// Called by a transaction once its handle has been committed or aborted.
    func transactionDidEnd(isReadOnly: Bool) {
        releaseHandle(isWriter: !isReadOnly)
    }

    // MARK: - Handle leases

    /// Returns the open handle and counts a lease on it, so `close()` cannot free it
    /// until the matching `releaseHandle`.
    private func acquireHandle(isWriter: Bool = false) throws(LMDBError) -> OpaquePointer {
        try withState { (state: inout State) throws(LMDBError) -> OpaquePointer in
            guard let handle = state.handle, !state.isCloseRequested else { throw LMDBError.closed }
            if isWriter, let writerThread = state.writerThread {
                precondition(
                    pthread_equal(writerThread, pthread_self()) == 0,
                    "LMDBEnvironment.write called inside a write transaction on the same thread"
                )
            }
            state.leasesCount += 1
            return handle
        }
    }

    private func releaseHandle(isWriter: Bool = false) {
        withState { state in
            // Compare rather than clear blindly: the next writer may already have begun.
            if isWriter, let writerThread = state.writerThread, pthread_equal(writerThread, pthread_self()) != 0 {
                state.writerThread = nil
            }
            state.leasesCount -= 1
            Self.closeHandleIfDrained(&state)
        }
    }

    private static func closeHandleIfDrained(_ state: inout State) {
        guard state.isCloseRequested, state.leasesCount == 0, let handle = state.handle else { return }
        mdb_env_close(handle)
        state.handle = nil
    }

    private func withState<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(stateMutex)
        defer { pthread_mutex_unlock(stateMutex) }
        return try body(&state)
    }

    // MARK: - Directory

    /// `mkdir -p` with mode 0700: the environment may hold sensitive state, and LMDB
    /// itself only creates files, not their directory.
    private static func createDirectoryIfMissing(_ path: String) throws(LMDBError) {
        if mkdir(path, 0o700) == 0 { return }
        let mkdirError = errno
        switch mkdirError {
        case EEXIST:
            var status = stat()
            guard stat(path, &status) == 0 else { throw LMDBError(code: errno, operation: "stat") }
            guard (status.st_mode & S_IFMT) == S_IFDIR else { throw LMDBError(code: ENOTDIR, operation: "mkdir") }
        case ENOENT:
            let parent = parentDirectory(of: path)
            guard !parent.isEmpty, parent != path else { throw LMDBError(code: mkdirError, operation: "mkdir") }
            try createDirectoryIfMissing(parent)
            // Another process may have created it meanwhile; EEXIST is then fine.
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw LMDBError(code: errno, operation: "mkdir")
            }
        default:
            throw LMDBError(code: mkdirError, operation: "mkdir")
        }
    }

    private static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        let parent = trimmed[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }
}
