/// What start-up did after the OS went down since the last LMDB sync: it reopened the snapshot
/// that sync recorded (`SyncedSnapshot`) instead of the newest one LMDB's file names, whose pages
/// may never have reached the disk. The journal then replays what came after.
public struct SnapshotRollback: Sendable, Equatable {
    /// The newest transaction LMDB's meta pages named on disk.
    public var newestTransactionIdFound: UInt64
    /// The transaction of the recorded snapshot, reopened.
    public var restoredTransactionId: UInt64
}
