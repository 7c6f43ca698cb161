#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How an `LMDBEnvironment` is opened. Every size carries its unit in its name.
public struct LMDBEnvironmentOptions: Sendable {
    /// Size of the memory map, which caps the database size. Address space only:
    /// the file grows as data is written, not to this size up front.
    public var mapSizeBytes: Int
    /// Named databases the environment can hold (`mdb_env_set_maxdbs`).
    public var databasesCountMax: Int
    /// Concurrent read transactions across all processes (`mdb_env_set_maxreaders`).
    /// LMDB rounds this up to fill the lock file's pages.
    public var readersCountMax: Int
    /// `MDB_NOSYNC`: commits do not fsync. A crash can lose the latest commits
    /// (but never corrupts the database); call `sync(force:)` when durability matters.
    public var noSync: Bool
    /// `MDB_NOMETASYNC`: commits fsync the data but not the meta page, so a crash can
    /// lose the last commit only.
    public var noMetaSync: Bool
    /// `MDB_WRITEMAP`: commits write pages through the shared memory map instead of with
    /// `pwrite`, so a commit costs no system call per dirty page. The data file is sized to
    /// `mapSizeBytes` at once (sparse on ext4 and xfs). Committed pages are in the page cache
    /// either way, so `kill -9` loses nothing; `sync(force:)` (msync) makes them durable.
    public var writeMap: Bool
    /// Permissions of the data and lock files LMDB creates.
    public var fileMode: mode_t

    public init(
        mapSizeBytes: Int = 1 << 30,
        databasesCountMax: Int = 32,
        readersCountMax: Int = 126,
        noSync: Bool = false,
        noMetaSync: Bool = false,
        writeMap: Bool = false,
        fileMode: mode_t = 0o600
    ) {
        self.mapSizeBytes = mapSizeBytes
        self.databasesCountMax = databasesCountMax
        self.readersCountMax = readersCountMax
        self.noSync = noSync
        self.noMetaSync = noMetaSync
        self.writeMap = writeMap
        self.fileMode = fileMode
    }
}
