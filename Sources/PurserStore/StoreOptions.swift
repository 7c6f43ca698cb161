/// How the store opens LMDB. Every limit is explicit and named with its unit.
public struct StoreOptions: Sendable {
    /// The LMDB map: the most the state may ever occupy on disk. Sparse, so a large value costs
    /// nothing until used.
    public var mapSizeBytes: Int
    /// LMDB reader slots: concurrent read transactions across every process using the data.
    public var readersCountMax: Int
    /// When true, a commit does not fsync; `StateStore.sync()` makes everything durable. The
    /// server uses this so an authorize never waits for the disk while a settle still does.
    public var commitWithoutSync: Bool
    /// The most reservations one `sweep` call expires or purges, so a backlog never makes a
    /// single write transaction (and every request queued behind it) arbitrarily long.
    public var sweepBatchCountMax: Int
    /// `MDB_WRITEMAP`: commits write through the memory map instead of one `pwrite` per dirty
    /// page. Each LMDB sync (`msync`) write-protects every dirty page again, and the next write to
    /// it faults: with an LMDB sync per settle batch that halved durable pairs, so it was off by
    /// default until the journal made LMDB syncs once-a-second checkpoints. With the journal, on
    /// the benchmark VM with 100,000 keys: durable pairs +25%, authorize CPU -10 to -25%
    /// (docs/benchmarks.md). The daemon turns it on; this library default stays off.
    public var writeMap: Bool
    /// With `commitWithoutSync`: journal every commit's changes (`StoreJournal`), so that
    /// `makeCommitsDurable()` fsyncs a few sequential journal pages instead of LMDB's random ones,
    /// and LMDB itself is synced only at `checkpoint()`. Start-up replays what LMDB lacks.
    public var journal: Bool
    /// A checkpoint is due once the active journal file holds this many bytes, however soon after
    /// the last one: it bounds the journal's size on disk and the replay after a power loss.
    public var journalCheckpointBytes: Int
    /// The most bytes of changes one transaction may journal. A larger one (a policy load of
    /// ~50,000 keys or more) is not journaled: until the next LMDB sync covers it, durability comes
    /// from syncing LMDB, and the daemon syncs LMDB right after every policy load.
    public var journalEntryBytesMax: Int
    /// Journal entries wait in memory until a durable answer, a checkpoint or this many bytes
    /// make them be written (`isJournalWriteDue`).
    public var journalPendingWriteBytes: Int
    /// The most bytes of entries waiting in memory. Past it (the disk stalls) a transaction is not
    /// journaled, as if too large: durability falls back to LMDB syncs until one covers it.
    public var journalPendingBytesMax: Int
    /// With `commitWithoutSync`: the id of the running boot, which decides at start-up whether
    /// the OS went down since the last sync (`SyncedSnapshot`); nil reads the kernel's
    /// (`/proc/sys/kernel/random/boot_id`). Tests set it to simulate a reboot.
    public var bootIdentifier: String?
    /// The opener holds the data directory's lock (`DataDirectoryLock`): start-up repairs what an
    /// earlier run left, whatever this run's own mode. It reopens the synced snapshot after an OS
    /// restart, replays the journal onto LMDB, and, if this run keeps no journal, syncs LMDB and
    /// deletes the journal files. A store that commits without sync always does this; a reader
    /// beside a running daemon must not, since the journal is that daemon's.
    ///
    /// Why: settles acknowledged by a journaled run live in its journal until its next checkpoint.
    /// Restarted after a power loss with `--sync-commits` or `--no-journal`, the daemon ignored the
    /// journal, so those settles were lost. It also left the stale journal behind, for a later
    /// journaled start to replay onto a store that had moved on.
    public var ownsDataDirectory: Bool
    /// New reservations are refused (authorize answers `unavailable`, as `on_store_error` says)
    /// once LMDB's file reaches within this share of the map's end. Settles, releases, credits and
    /// sweeps go on in that last share, so the reservations already made can always be finished:
    /// without it a full map failed settles first (they write more pages than authorizes) while
    /// authorizes kept reserving. The file's end is the one measure LMDB honours: freed pages it
    /// cannot always reuse (see docs/architecture.md, "Sizing the map"). 0 turns it off.
    public var mapHeadroomPercent: Int
    /// The largest `mapHeadroomPercent`: beyond half the map, the headroom would be the store.
    public static let mapHeadroomPercentMax = 50

    public init(
        mapSizeBytes: Int = 4 << 30,
        readersCountMax: Int = 126,
        commitWithoutSync: Bool = false,
        sweepBatchCountMax: Int = 10_000,
        writeMap: Bool = false,
        journal: Bool = false,
        journalCheckpointBytes: Int = 64 << 20,
        journalEntryBytesMax: Int = 8 << 20,
        journalPendingWriteBytes: Int = 4 << 20,
        journalPendingBytesMax: Int = 64 << 20,
        bootIdentifier: String? = nil,
        ownsDataDirectory: Bool = false,
        mapHeadroomPercent: Int = 10
    ) {
        precondition((0...Self.mapHeadroomPercentMax).contains(mapHeadroomPercent), "mapHeadroomPercent must be 0-\(Self.mapHeadroomPercentMax)")
        self.mapHeadroomPercent = mapHeadroomPercent
        self.ownsDataDirectory = ownsDataDirectory
        self.bootIdentifier = bootIdentifier
        self.journalPendingWriteBytes = journalPendingWriteBytes
        self.journalPendingBytesMax = journalPendingBytesMax
        self.journalEntryBytesMax = journalEntryBytesMax
        self.journal = journal
        self.journalCheckpointBytes = journalCheckpointBytes
        self.mapSizeBytes = mapSizeBytes
        self.readersCountMax = readersCountMax
        self.commitWithoutSync = commitWithoutSync
        self.sweepBatchCountMax = sweepBatchCountMax
        self.writeMap = writeMap
    }
}
