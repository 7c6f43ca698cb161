/// A read transaction held open on purpose, across calls and threads (`MDB_NOTLS`), so that
/// LMDB reuses none of the pages of the snapshot it sees: a write transaction only recycles pages
/// freed before the oldest open reader's snapshot.
///
/// Purser pins the snapshot each LMDB sync made durable, so that after an OS crash that snapshot
/// is still whole on disk and can be opened again (`LMDBMetaPages.restore`), whatever order the
/// kernel wrote later pages in. Release it (or let it go) to let LMDB recycle those pages again;
/// while it is held the file grows by the pages later commits free.
public final class LMDBSnapshotPin: @unchecked Sendable {
    /// The id of the last transaction committed when the pin was taken: the snapshot it holds.
    public let transactionId: UInt64
    /// Nil once released. Only `release()` touches it, under the caller's serialization (the
    /// store releases a pin from one place at a time).
    private var transaction: LMDBTransaction?

    init(transaction: LMDBTransaction) {
        self.transaction = transaction
        self.transactionId = transaction.id
    }

    /// Ends the read transaction. Idempotent.
    public func release() {
        transaction?.abort()
        transaction = nil
    }

    deinit {
        release()
    }
}
