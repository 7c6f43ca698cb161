/// What opening a store with a journal found and replayed, for the start-up log.
public struct JournalRecovery: Sendable, Equatable {
    /// LMDB's last transaction id as found on disk.
    public var lastTransactionIdBefore: UInt64
    /// Intact entries in both journal files, replayed or not.
    public var entriesRead: Int
    /// Entries LMDB lacked, applied in order.
    public var entriesReplayed: Int
    /// Entries found beyond a missing one, not applied (never acknowledged as durable).
    public var entriesAfterHole: Int
    /// LMDB's last transaction id after the replay.
    public var lastTransactionIdAfter: UInt64 = 0
}
