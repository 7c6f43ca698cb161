/// How an `SQLiteDatabase` connection is opened and configured.
public struct SQLiteOptions: Sendable {
    /// Opens with `SQLITE_OPEN_READONLY`; otherwise `SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE`.
    /// A read-only open of a missing file fails with `isCantOpen` instead of creating it.
    public var readOnly: Bool
    /// How long a call waits for another connection's lock before failing with `isBusy`
    /// (`sqlite3_busy_timeout`). Zero or less fails at once.
    public var busyTimeoutMilliseconds: Int32
    /// Switches the database to write-ahead logging (`PRAGMA journal_mode=WAL`), so readers
    /// never block the writer nor the writer them. WAL is a property of the file and
    /// persists, so read-only connections skip this and simply use the file's mode.
    /// Opening fails if SQLite cannot enter WAL (an in-memory database, for instance).
    public var journalModeWAL: Bool
    /// `PRAGMA synchronous` for this connection.
    public var synchronous: Synchronous
    /// `PRAGMA cache_size` in KiB: the connection's page cache, allocated as pages are used.
    /// SQLite's default is 2,000 KiB.
    public var cacheSizeKibibytes: Int

    public init(
        readOnly: Bool = false,
        busyTimeoutMilliseconds: Int32 = 5_000,
        journalModeWAL: Bool = true,
        synchronous: Synchronous = .normal,
        cacheSizeKibibytes: Int = 2_000
    ) {
        self.cacheSizeKibibytes = cacheSizeKibibytes
        self.readOnly = readOnly
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.journalModeWAL = journalModeWAL
        self.synchronous = synchronous
    }
}
