import CLMDB

/// A named database inside an `LMDBEnvironment`, obtained from `openDatabase(named:flags:)`.
///
/// A plain value (the `MDB_dbi` index) so it can be shared freely between tasks. It is
/// only meaningful for the environment that opened it, and only while that
/// environment is open.
public struct LMDBDatabase: Sendable, Hashable {
    public let name: String
    /// The database's flags as stored by LMDB, which may differ from those requested
    /// when the database already existed.
    public let flags: LMDBDatabaseFlags
    let handle: MDB_dbi

    init(name: String, flags: LMDBDatabaseFlags, handle: MDB_dbi) {
        self.name = name
        self.flags = flags
        self.handle = handle
    }
}
