import Foundation
import PurserServer
import PurserStore

/// The store of a data directory, opened for a command that reads it (`state`, `reconcile`).
///
/// With a daemon running, LMDB already holds everything the daemon committed, and the command
/// only reads. With none, the directory may be as a power loss left it, with commits in the
/// journal that LMDB lacks: the command then takes the directory's lock (so no daemon starts
/// meanwhile) and replays them, exactly as the daemon's start-up would, so that what it prints is
/// what the daemon acknowledged.
struct DataDirectoryStore {
    let store: StateStore
    /// Held while the store is open when this process replayed the journal.
    private let lock: DataDirectoryLock?

    init(directory: String) throws {
        let hasStore = FileManager.default.fileExists(atPath: directory + "/data.mdb")
        if hasStore, let lock = try? DataDirectoryLock(directory: directory) {
            self.lock = lock
            store = try StateStore(directory: directory, options: StoreOptions(commitWithoutSync: true, journal: true))
            if let rollback = store.snapshotRollback {
                FileHandle.standardError.write(Data((
                    "purser: the OS restarted since the daemon last synced LMDB: reopened transaction "
                        + "\(rollback.restoredTransactionId) (the file named \(rollback.newestTransactionIdFound))\n"
                ).utf8))
            }
            if let recovery = store.recovery, recovery.entriesReplayed > 0 {
                FileHandle.standardError.write(Data((
                    "purser: replayed \(recovery.entriesReplayed) journal entries that LMDB lacked "
                        + "(the daemon last stopped without syncing, e.g. a power loss)\n"
                ).utf8))
            }
        } else {
            lock = nil
            store = try StateStore(directory: directory)
        }
    }

    func close() {
        store.close()
        withExtendedLifetime(lock) {}
    }
}
