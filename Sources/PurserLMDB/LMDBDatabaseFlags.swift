import CLMDB

/// Options of a named database, fixed when it is first created.
public struct LMDBDatabaseFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// `MDB_REVERSEKEY`: keys compare as byte strings read from their last byte.
    public static let reverseKey = LMDBDatabaseFlags(rawValue: UInt32(MDB_REVERSEKEY))

    /// `MDB_INTEGERKEY`: keys are native-endian `UInt32` or `UInt64` values and compare
    /// numerically. All keys of one database must have the same size.
    public static let integerKey = LMDBDatabaseFlags(rawValue: UInt32(MDB_INTEGERKEY))

    /// The flags this wrapper understands, used to filter what `mdb_dbi_flags` reports.
    static let known: LMDBDatabaseFlags = [.reverseKey, .integerKey]
}
