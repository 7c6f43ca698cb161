import PurserLMDB

/// Why the store could not answer. Any of these aborts the whole write transaction, so a failed
/// batch changes nothing.
public enum StoreError: Error, CustomStringConvertible {
    /// LMDB refused: map full, out of reader slots, I/O error. The server answers `unavailable`.
    case storage(LMDBError)
    case corrupted(RecordCorrupted)
    /// The data directory was written by an incompatible version of Purser.
    case schemaMismatch(found: UInt64, expected: UInt64)
    /// The writer is stopping and did not start this operation.
    case shuttingDown
    /// A system call on the redo journal failed; `code` is its `errno`.
    case journal(operation: String, path: String, code: Int32)
    /// Replaying the journal at start-up did not reproduce the transaction it recorded.
    case journalReplay(transactionId: UInt64, reason: String)

    public var description: String {
        switch self {
        case .storage(let error): return "storage error: \(error)"
        case .corrupted(let error): return "\(error)"
        case .schemaMismatch(let found, let expected):
            return "the data directory has schema version \(found); this purser understands \(expected)"
        case .shuttingDown:
            return "the server is shutting down"
        case .journal(let operation, let path, let code):
            return "journal: \(operation) \(path) failed with errno \(code)"
        case .journalReplay(let transactionId, let reason):
            return "journal: replaying transaction \(transactionId) failed: \(reason)"
        }
    }

    /// Runs `body`, turning the errors of the layers below into `StoreError`.
    static func wrapping<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as LMDBError {
            throw .storage(error)
        } catch let error as RecordCorrupted {
            throw .corrupted(error)
        } catch {
            preconditionFailure("unexpected error from the store: \(error)")
        }
    }
}
