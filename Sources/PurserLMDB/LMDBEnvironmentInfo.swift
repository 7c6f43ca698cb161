/// A snapshot of `mdb_env_info`.
public struct LMDBEnvironmentInfo: Sendable, Equatable {
    public var mapSizeBytes: Int
    /// Highest page number in use; `(lastPageNumber + 1) * pageSizeBytes` approximates the bytes used.
    public var lastPageNumber: Int
    public var lastTransactionID: Int
    public var readersCountMax: Int
    /// Reader slots ever taken: a high-water mark, as LMDB does not lower it when reads end.
    public var readersCountUsed: Int

    public init(
        mapSizeBytes: Int,
        lastPageNumber: Int,
        lastTransactionID: Int,
        readersCountMax: Int,
        readersCountUsed: Int
    ) {
        self.mapSizeBytes = mapSizeBytes
        self.lastPageNumber = lastPageNumber
        self.lastTransactionID = lastTransactionID
        self.readersCountMax = readersCountMax
        self.readersCountUsed = readersCountUsed
    }
}
