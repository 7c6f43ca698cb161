extension SQLiteOptions {
    /// When SQLite waits for data to reach the disk (`PRAGMA synchronous`).
    public enum Synchronous: Sendable, Hashable, CaseIterable {
        /// Never fsyncs: an OS crash or power loss can corrupt the database.
        case off
        /// In WAL mode, fsyncs only at checkpoints: a power loss can lose the latest
        /// commits but never corrupts the database. The usual choice with WAL.
        case normal
        /// Fsyncs the WAL at every commit: committed transactions survive power loss.
        case full

        /// The pragma's argument, and the integer SQLite reports back when queried.
        var pragmaValue: Int64 {
            switch self {
            case .off: 0
            case .normal: 1
            case .full: 2
            }
        }
    }
}
