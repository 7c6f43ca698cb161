import PurserEngine
import PurserLMDB
import PurserPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Purser's state in LMDB: the policy in force, every scope's counters, reservations, the
/// idempotency indexes and the ledger outbox.
///
/// Every operation runs the pure engine between a read and a write of the same LMDB write
/// transaction, so a decision and everything it changes commit together or not at all, and a
/// batch of operations (`perform`) shares one commit. LMDB admits one writer at a time, which is
/// what makes "check every cap, then reserve in every scope" atomic across concurrent requests.
public final class StateStore: @unchecked Sendable {
    public static let schemaVersion: UInt64 = 1

    private let environment: LMDBEnvironment
    private let databases: StoreDatabases
    public let options: StoreOptions
    private let makeReservationId: @Sendable () -> String
    private let policyMetadataCache = PolicyMetadataCache()

    /// The redo journal, with `options.journal` (and `commitWithoutSync`).
    private let journal: StoreJournal?
    /// The changes of the write transaction in progress; reused for every transaction. Only
    /// touched under `journalLock`.
    private let writeLog: LMDBWriteLog?
    /// Held by every commit: serializes commit and append, so that entries are appended in commit
    /// order even when several threads write (the daemon has one writer; tests may have more),
    /// and lets `syncAndRecord` read a meta page no commit is rewriting.
    private let journalLock = Mutex(())
    /// The highest transaction id committed but not journaled (too large for an entry, or too much
    /// pending), 0 for none.
    /// Until a sync of LMDB covers it, `makeCommitsDurable()` syncs LMDB instead of the journal:
    /// the journal has a hole there, and recovery stops at a hole.
    private let unjournaledTransactionId = Atomic<UInt64>(0)
    /// What start-up found in the journal and replayed; nil without a journal.
    public private(set) var recovery: JournalRecovery?
    /// Set when start-up found that the OS went down since the last sync and reopened the
    /// snapshot that sync recorded (`SyncedSnapshot`); nil otherwise.
    public private(set) var snapshotRollback: SnapshotRollback?

    private let directory: String
    /// See `StoreOptions.bootIdentifier`.
    private let bootIdentifier: String
    /// With `commitWithoutSync`: a read transaction on the snapshot the last sync recorded, so
    /// that LMDB reuses none of its pages until a newer record replaces it (`syncAndRecord`).
    private let syncedSnapshotPin = Mutex<LMDBSnapshotPin?>(nil)
    /// Serializes `sync()`: the syncer and the checkpointer threads may both call it.
    private let syncLock = Mutex(())
    /// LMDB's page size, which `refusesNewReservations` divides the map by on every batch.
    private let pageSizeBytes: Int

    /// Opens (creating if needed) the store in `directory`.
    ///
    /// `makeReservationId` exists for tests that want predictable ids; the default draws 128
    /// random bits from the system's secure generator, so ids cannot be guessed.
    public init(
        directory: String,
        options: StoreOptions = StoreOptions(),
        makeReservationId: @escaping @Sendable () -> String = StateStore.randomReservationId
    ) throws(StoreError) {
        self.options = options
        self.makeReservationId = makeReservationId
        self.directory = directory
        let bootIdentifier = options.bootIdentifier ?? SyncedSnapshot.currentBootIdentifier()
        self.bootIdentifier = bootIdentifier
        // Only the data directory's owner repairs what an earlier run left (`ownsDataDirectory`);
        // one that commits without sync is always the owner.
        let recoversEarlierRun = options.commitWithoutSync || options.ownsDataDirectory
        // Before LMDB opens the file: it must open the recorded snapshot, not the newest.
        if recoversEarlierRun {
            snapshotRollback = try Self.reopenSyncedSnapshotIfTheOSRestarted(directory: directory, bootIdentifier: bootIdentifier)
        }
        let environmentOptions = LMDBEnvironmentOptions(
            mapSizeBytes: options.mapSizeBytes,
            databasesCountMax: StoreDatabases.count + 4,
            readersCountMax: options.readersCountMax,
            noSync: options.commitWithoutSync,
            writeMap: options.writeMap
        )
        let environment = try StoreError.wrapping { try LMDBEnvironment(path: directory, options: environmentOptions) }
        let databases = try StoreError.wrapping { try StoreDatabases(environment: environment) }
        self.environment = environment
        self.databases = databases
        self.pageSizeBytes = try StoreError.wrapping { try environment.pageSizeBytes }
        let stored: (schema: [UInt8]?, storeIdentifier: [UInt8]?) = try StoreError.wrapping {
            try environment.read { transaction in
                (try transaction.get(databases.meta, key: MetaKey.schema), try transaction.get(databases.meta, key: MetaKey.storeIdentifier))
            }
        }
        if let schema = stored.schema {
            let found = BigEndianKey.value(schema) ?? 0
            guard found == StateStore.schemaVersion else {
                throw StoreError.schemaMismatch(found: found, expected: StateStore.schemaVersion)
            }
        }
        // Recovery comes before any other write: a replayed entry must get the very transaction id
        // it had.
        // Without `commitWithoutSync` every commit is synced already: a journal would add nothing.
        let isJournaled = options.journal && options.commitWithoutSync
        var journal: StoreJournal?
        // An earlier run's journal is replayed whatever this run's mode: it may hold settles that
        // run acknowledged and LMDB lost. A run that keeps no journal opens one only to read it.
        if recoversEarlierRun, isJournaled || StoreJournal.filesExist(in: directory),
           let storeIdentifier = stored.storeIdentifier, storeIdentifier.count == 16 {
            let opened = try StoreJournal(directory: directory, storeIdentifier: storeIdentifier, pendingBytesMax: options.journalPendingBytesMax)
            recovery = try Self.replay(opened.entries(), environment: environment, databases: databases)
            journal = opened
        }
        let storeIdentifier = stored.storeIdentifier ?? Self.randomStoreIdentifier()
        try StoreError.wrapping {
            try environment.write { transaction in
                if stored.schema == nil {
                    try transaction.put(databases.meta, key: MetaKey.schema, value: BigEndianKey.bytes(StateStore.schemaVersion))
                }
                if stored.storeIdentifier == nil {
                    try transaction.put(databases.meta, key: MetaKey.storeIdentifier, value: storeIdentifier)
                }
            }
        }
        if options.commitWithoutSync {
            // LMDB now holds everything the journal did: sync it (and record the snapshot), then
            // start the journal empty. Nothing else writes yet, so no commit lock is needed.
            let pin = try Self.syncAndRecord(environment: environment, directory: directory, bootIdentifier: bootIdentifier, commitLock: Mutex(()))
            syncedSnapshotPin.withLock { $0 = pin }
        } else if recoversEarlierRun {
            // Every commit of this run is synced. What an earlier run left may not be: commits
            // made without sync (still in the page cache after a `kill -9`), the snapshot reopened,
            // the entries replayed (LMDB syncs each, but not what they were applied onto). One
            // sync covers it all before the record and the journal that could rebuild it go: the
            // record first, since it names a snapshot older than what is now synced.
            try StoreError.wrapping { try environment.sync(force: true) }
            try Self.removeSyncedSnapshotRecord(directory: directory)
        }
        if !isJournaled, let journal {
            // LMDB on disk now holds every entry: deleted, the files can never be replayed later
            // onto a store that has moved on (this run's transaction ids repeat theirs).
            try journal.deleteFiles()
        }
        if isJournaled {
            let opened: StoreJournal
            if let journal {
                opened = journal
            } else {
                opened = try StoreJournal(directory: directory, storeIdentifier: storeIdentifier, pendingBytesMax: options.journalPendingBytesMax)
            }
            try opened.removeAllEntries()
            self.journal = opened
            self.writeLog = LMDBWriteLog(headerBytesCount: StoreJournal.entryHeaderBytesCount, recordBytesMax: options.journalEntryBytesMax)
        } else {
            self.journal = nil
            self.writeLog = nil
        }
    }

    private static func randomStoreIdentifier() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64) { Array($0) } }
    }

    /// Closes LMDB. Later calls fail with a storage error instead of touching freed memory.
    public func close() {
        // The pin leases LMDB's handle, and closing waits for every lease. Under `syncLock`, so
        // that a sync in flight cannot pin again after this.
        syncLock.withLock { _ in
            syncedSnapshotPin.withLock { pin in
                pin?.release()
                pin = nil
            }
        }
        environment.close()
    }

    /// What reservation ids are made from: the last time prefix handed out, so that prefixes
    /// strictly increase even when the clock stands still or steps back, and random words fetched
    /// from the kernel a page at a time (one `getrandom` per id cost ~5% of an authorize).
    private struct ReservationIdSource {
        static let randomWordsCount = 256
        var lastPrefix: UInt64 = 0
        var randomWords = [UInt64](repeating: 0, count: randomWordsCount)
        var nextRandomIndex = randomWordsCount

        mutating func nextRandomWord() -> UInt64 {
            if nextRandomIndex == Self.randomWordsCount {
                let byteCount = Self.randomWordsCount * MemoryLayout<UInt64>.size
                // /dev/urandom is the kernel's CSPRNG, as getrandom(2) is (which Glibc's Swift
                // module does not export).
                let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
                let filled = descriptor >= 0 && randomWords.withUnsafeMutableBytes { buffer -> Bool in
                    defer { closeDescriptor(descriptor) }
                    var offset = 0
                    while offset < byteCount {
                        let count = read(descriptor, buffer.baseAddress! + offset, byteCount - offset)
                        if count < 0 && errno == EINTR { continue }
                        if count <= 0 { return false }
                        offset += count
                    }
                    return true
                }
                if !filled {
                    // Without /dev/urandom (a chroot without /dev), fall back to the standard
                    // library's generator rather than hand out a weak id.
                    var generator = SystemRandomNumberGenerator()
                    for index in randomWords.indices { randomWords[index] = generator.next() }
                }
                nextRandomIndex = 0
            }
            defer { nextRandomIndex += 1 }
            return randomWords[nextRandomIndex]
        }
    }

    private static let reservationIdSource = Mutex(ReservationIdSource())

    /// `rsv_`, 16 hex digits of a strictly increasing prefix (nanoseconds of wall-clock time),
    /// then 16 hex digits of randomness: unique, unguessable (64 random bits), and in creation
    /// order, so that new reservations are appended at the right edge of their LMDB tree instead
    /// of dirtying a random page of it on every authorize.
    @Sendable public static func randomReservationId() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let nanoseconds = UInt64(max(0, time.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, time.tv_nsec))
        let (prefix, random) = reservationIdSource.withLock { source in
            source.lastPrefix = max(source.lastPrefix &+ 1, nanoseconds)
            return (source.lastPrefix, source.nextRandomWord())
        }
        // Written digit by digit into the string's own storage: formatting each half with
        // String(radix:), padding and concatenating cost five allocations per authorize.
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { buffer in
            for (index, byte) in "rsv_".utf8.enumerated() { buffer[index] = byte }
            digits.withUTF8Buffer { digits in
                func writeHex(_ value: UInt64, at start: Int) {
                    for position in 0..<16 {
                        buffer[start + position] = digits[Int(truncatingIfNeeded: value >> (60 - 4 * UInt64(position))) & 0xF]
                    }
                }
                writeHex(prefix, at: 4)
                writeHex(random, at: 20)
            }
            return 36
        }
    }

    /// Makes every committed transaction durable in LMDB itself (fsync of its file). Needed only
    /// with `commitWithoutSync`, where it also records the synced snapshot for a restart after an
    /// OS crash (`syncAndRecord`).
    public func sync() throws(StoreError) {
        try syncLock.withLock { _ throws(StoreError) in
            // Read before the sync: every transaction up to this id is covered by it.
            let covered = try StoreError.wrapping { UInt64(try environment.info.lastTransactionID) }
            if options.commitWithoutSync {
                let pin = try Self.syncAndRecord(environment: environment, directory: directory, bootIdentifier: bootIdentifier, commitLock: journalLock)
                // The previous pin kept the previous record's snapshot whole until now.
                let previous = syncedSnapshotPin.withLock { current in
                    defer { current = pin }
                    return current
                }
                previous?.release()
            } else {
                try StoreError.wrapping { try environment.sync(force: true) }
            }
            var hole = unjournaledTransactionId.load(ordering: .acquiring)
            while hole != 0, hole <= covered {
                let (exchanged, original) = unjournaledTransactionId.compareExchange(expected: hole, desired: 0, ordering: .acquiringAndReleasing)
                if exchanged { break }
                hole = original
            }
        }
    }

    /// Pins the last committed snapshot, syncs LMDB, and records that snapshot in the data
    /// directory as the one to reopen after an OS crash. Returns the pin, which the caller holds
    /// until the next record replaces this one.
    ///
    /// The pin and the meta page are taken under `commitLock`, which every commit holds: the
    /// meta page read is then the pinned snapshot's own, not one a commit is rewriting.
    private static func syncAndRecord(
        environment: LMDBEnvironment, directory: String, bootIdentifier: String, commitLock: borrowing Mutex<()>
    ) throws(StoreError) -> LMDBSnapshotPin {
        let (pin, metaPage) = try StoreError.wrapping {
            try commitLock.withLock { _ in
                let pin = try environment.pinSnapshot()
                let pages = try LMDBMetaPages.read(dataFile: environment.dataFilePath, pageSizeBytes: try environment.pageSizeBytes)
                // LMDB writes a commit's meta page into the slot of its id's parity, so the last
                // committed one is still there.
                guard let page = pages.first(where: { LMDBMetaPages.transactionId(of: $0) == pin.transactionId }) else {
                    pin.release()
                    throw LMDBError(code: EIO, operation: "no meta page names the pinned transaction \(pin.transactionId)")
                }
                return (pin, page)
            }
        }
        do {
            try StoreError.wrapping { try environment.sync(force: true) }
            try SyncedSnapshot(bootIdentifier: bootIdentifier, transactionId: pin.transactionId, metaPage: metaPage).write(in: directory)
        } catch {
            pin.release()
            throw error
        }
        return pin
    }

    /// After the OS went down (another boot than the one the last sync recorded), writes the
    /// recorded snapshot's meta page back into LMDB's file, so that LMDB opens that snapshot: it
    /// is whole on disk, while a newer one LMDB's meta pages name may not be. The journal then
    /// replays what followed. Within the same boot the page cache survived a process crash, and
    /// the newest snapshot is whole: nothing to do.
    ///
    /// A record that does not decode is ignored (it is written by rename, so only outside damage
    /// makes one): LMDB then opens as it is, as it would have without the record.
    private static func reopenSyncedSnapshotIfTheOSRestarted(directory: String, bootIdentifier: String) throws(StoreError) -> SnapshotRollback? {
        guard !bootIdentifier.isEmpty, let record = try SyncedSnapshot.stored(in: directory), record.bootIdentifier != bootIdentifier else {
            return nil
        }
        let dataFile = directory + "/data.mdb"
        guard access(dataFile, F_OK) == 0 else { return nil }
        return try StoreError.wrapping {
            let pages = try LMDBMetaPages.read(dataFile: dataFile, pageSizeBytes: record.metaPage.count)
            let newest = pages.compactMap(LMDBMetaPages.transactionId(of:)).max() ?? 0
            if newest != record.transactionId {
                try LMDBMetaPages.restore(record.metaPage, dataFile: dataFile)
            }
            return SnapshotRollback(newestTransactionIdFound: newest, restoredTransactionId: record.transactionId)
        }
    }

    /// Removes the synced-snapshot record (`SyncedSnapshot`), when the owner opens a store whose
    /// every commit is synced (`commitWithoutSync` false): the record names a snapshot of an
    /// earlier run without sync, and a start-up after a later OS crash must not go back to it over
    /// synced commits.
    private static func removeSyncedSnapshotRecord(directory: String) throws(StoreError) {
        try StoreJournal.removeDurably([SyncedSnapshot.fileName], in: directory)
    }

    /// Makes every transaction committed so far durable, the cheapest way available: an
    /// `fdatasync` of the journal's active file (a few sequential pages for any number of
    /// commits), or, without a journal or while it has a hole, a sync of LMDB.
    public func makeCommitsDurable() throws(StoreError) {
        if let journal, unjournaledTransactionId.load(ordering: .acquiring) == 0 {
            try journal.sync()
        } else {
            try sync()
        }
    }

    /// Syncs LMDB and lets the journal start over in its other file: after a power loss, recovery
    /// replays only what came after this. Without a journal, the same as `sync()`.
    public func checkpoint() throws(StoreError) {
        // Switch first: the entries left behind are all of transactions committed before the
        // sync below begins, so it covers them.
        try journal?.switchFiles()
        try sync()
    }

    /// True when journal entries waiting in memory reached `options.journalPendingWriteBytes`.
    public var isJournalWriteDue: Bool {
        guard let journal else { return false }
        return journal.pendingBytesCount >= options.journalPendingWriteBytes
    }

    /// Writes the journal entries waiting in memory to the active file, without `fdatasync`.
    public func writeJournal() throws(StoreError) {
        try journal?.writePending()
    }

    /// True when the journal's active file reached `options.journalCheckpointBytes`.
    public var isCheckpointDue: Bool {
        guard let journal else { return false }
        return journal.activeBytesCount >= options.journalCheckpointBytes
    }

    /// Runs a write transaction and, with a journal, appends its changes once it committed.
    private func journaledWrite<T: Sendable>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        // Every commit holds `journalLock`, journaled or not: `syncAndRecord` reads a meta page
        // under it.
        guard let journal, let writeLog else { return try journalLock.withLock { _ in try environment.write(body) } }
        return try journalLock.withLock { _ in
            writeLog.removeAllRecords()
            var transactionId: UInt64 = 0
            let result = try environment.write(log: writeLog) { transaction in
                transactionId = transaction.id
                return try body(transaction)
            }
            // A transaction that changed nothing commits without an id of its own: nothing to
            // journal, and the next transaction takes the id this one was shown.
            guard !writeLog.isEmpty else { return result }
            defer { writeLog.removeAllRecords() }
            if writeLog.isOverflowed || !journal.append(writeLog, transactionId: transactionId) {
                // Committed, so not an error for the caller; but until LMDB is synced past it,
                // durability must come from LMDB (see `makeCommitsDurable`). The daemon syncs
                // LMDB right after a policy load, the one transaction normally too large; a full
                // pending buffer means the disk stalls, and LMDB syncs are then the way on.
                unjournaledTransactionId.max(transactionId, ordering: .acquiringAndReleasing)
            }
            return result
        }
    }

    /// Applies the journal's entries that LMDB lacks (those after its last transaction), each as
    /// the transaction it was, and checks each gets its original id.
    private static func replay(
        _ entries: [StoreJournal.Entry], environment: LMDBEnvironment, databases: StoreDatabases
    ) throws(StoreError) -> JournalRecovery {
        var last = try StoreError.wrapping { UInt64(try environment.info.lastTransactionID) }
        var recovery = JournalRecovery(lastTransactionIdBefore: last, entriesRead: entries.count, entriesReplayed: 0, entriesAfterHole: 0)
        let byName = Dictionary(uniqueKeysWithValues: databases.all.map { ($0.name, $0) })
        for (index, entry) in entries.enumerated() where entry.transactionId > last {
            guard entry.transactionId == last + 1 else {
                // Entries past a hole were never acknowledged as durable: while the journal had a
                // hole, durability came from LMDB syncs, which would have covered them.
                recovery.entriesAfterHole = entries.count - index
                break
            }
            let records: [LMDBWriteLog.Record]
            do {
                records = try entry.records.withUnsafeBytes { bytes throws(LMDBWriteLog.DecodingError) in try LMDBWriteLog.records(in: bytes) }
            } catch {
                throw .journalReplay(transactionId: entry.transactionId, reason: "undecodable records: \(error)")
            }
            try StoreError.wrapping {
                try environment.write { transaction in
                    guard transaction.id == entry.transactionId else {
                        throw StoreError.journalReplay(transactionId: entry.transactionId, reason: "LMDB would commit it as \(transaction.id)")
                    }
                    for record in records {
                        guard let database = byName[record.databaseName] else {
                            throw StoreError.journalReplay(transactionId: entry.transactionId, reason: "unknown database \(record.databaseName)")
                        }
                        switch record.kind {
                        case .put: try transaction.put(database, key: record.key, value: record.value)
                        case .delete:
                            guard try transaction.delete(database, key: record.key) else {
                                throw StoreError.journalReplay(transactionId: entry.transactionId, reason: "deletes a key \(record.databaseName) does not hold")
                            }
                        case .removeAll: try transaction.removeAll(database)
                        }
                    }
                }
            }
            let committed = try StoreError.wrapping { UInt64(try environment.info.lastTransactionID) }
            guard committed == entry.transactionId else {
                throw .journalReplay(transactionId: entry.transactionId, reason: "LMDB committed it as \(committed)")
            }
            last = committed
            recovery.entriesReplayed += 1
        }
        recovery.lastTransactionIdAfter = last
        return recovery
    }

    /// Unmaps the pages this process touched; they stay cached by the OS. See
    /// `LMDBEnvironment.releaseMappedPages`.
    public func releaseMappedPages() throws(StoreError) {
        try StoreError.wrapping { try environment.releaseMappedPages() }
    }

    // MARK: - Policy

    /// Replaces the policy in one write transaction: a reader sees the old policy or the new one,
    /// never a mix. Counters, reservations and the outbox are untouched, so spend survives.
    @discardableResult
    public func loadPolicy(_ policy: Policy, version: String, now: Timestamp) throws(StoreError) -> PolicyLoadSummary {
        try loadPolicy(PreparedPolicy(policy, version: version), now: now)
    }

    /// The same, with the records already encoded and sorted (`PreparedPolicy`, built off the
    /// writer's thread). With `difference` (from `policyDifference`, computed off the writer's
    /// thread too) the transaction only writes what changed, provided no other load came between;
    /// otherwise it compares again itself.
    @discardableResult
    public func loadPolicy(_ prepared: PreparedPolicy, difference: PolicyDifference? = nil, now: Timestamp) throws(StoreError) -> PolicyLoadSummary {
        var changes = 0
        try StoreError.wrapping {
            try journaledWrite { transaction in
                let current = try transaction.get(databases.meta, key: MetaKey.policy)
                let difference = try difference.flatMap { $0.storedMetadata == current ? $0 : nil }
                    ?? Self.policyDifference(prepared, in: transaction, databases: databases, storedMetadata: current)
                for (target, recordsDifference) in zip(databases.policyRecords(of: prepared), difference.byDatabase) {
                    try Self.apply(recordsDifference, of: target.database, from: target.records, in: transaction)
                    changes += recordsDifference.changesCount
                }
                var metadata = prepared.metadata
                metadata.loadedAt = now
                try transaction.put(databases.meta, key: MetaKey.policy, value: metadata.encodedRecord())
            }
        }
        return PolicyLoadSummary(
            version: prepared.metadata.version, plansCount: Int(prepared.metadata.plansCount),
            tenantsCount: Int(prepared.metadata.tenantsCount), keysCount: Int(prepared.metadata.keysCount),
            recordsChangedCount: changes
        )
    }

    /// What loading `prepared` would change, read in a read-only transaction: the expensive half
    /// of a load (a pass over every policy record, ~150 ms for 100,000 keys), done where it holds
    /// up no request.
    public func policyDifference(_ prepared: PreparedPolicy) throws(StoreError) -> PolicyDifference {
        try StoreError.wrapping {
            try environment.read { transaction in
                try Self.policyDifference(
                    prepared, in: transaction, databases: databases, storedMetadata: try transaction.get(databases.meta, key: MetaKey.policy)
                )
            }
        }
    }

    private static func policyDifference(
        _ prepared: PreparedPolicy, in transaction: LMDBTransaction, databases: StoreDatabases, storedMetadata: [UInt8]?
    ) throws -> PolicyDifference {
        var byDatabase: [RecordsDifference] = []
        for target in databases.policyRecords(of: prepared) {
            byDatabase.append(try difference(of: target.database, from: target.records, in: transaction))
        }
        return PolicyDifference(storedMetadata: storedMetadata, byDatabase: byDatabase)
    }

    /// What `database` lacks or holds beyond `desired`, read in one cursor pass; any transaction,
    /// a read-only one included.
    ///
    /// Why a difference rather than clearing and refilling: with 100,000 keys that rewrote ~25 MB
    /// of pages on every reload (copy-on-write), all dirty for the fsync that follows, while a
    /// typical reload changes a handful of keys.
    static func difference(
        of database: LMDBDatabase, from desired: SortedRecords, in transaction: LMDBTransaction
    ) throws -> RecordsDifference {
        var difference = RecordsDifference()
        var next = 0
        try desired.withRecords { desiredKey, desiredValue in
            try transaction.forEachBorrowing(database) { key, value in
                while next < desired.count, BytewiseOrder.compare(desiredKey(next), key) < 0 {
                    difference.puts.append(next)
                    next += 1
                }
                if next < desired.count, BytewiseOrder.compare(desiredKey(next), key) == 0 {
                    if BytewiseOrder.compare(desiredValue(next), value) != 0 { difference.puts.append(next) }
                    next += 1
                } else {
                    difference.deletions.append(Array(key))
                }
            }
        }
        difference.puts.append(contentsOf: next..<desired.count)
        return difference
    }

    static func apply(
        _ difference: RecordsDifference, of database: LMDBDatabase, from desired: SortedRecords, in transaction: LMDBTransaction
    ) throws {
        for key in difference.deletions {
            _ = try transaction.delete(database, key: key)
        }
        try desired.withRecords { key, value in
            for index in difference.puts {
                try transaction.put(database, key: Array(key(index)), value: Array(value(index)))
            }
        }
    }

    /// The policy in force, or nil before the first load.
    public func policyMetadata() throws(StoreError) -> PolicyMetadata? {
        try StoreError.wrapping {
            try environment.read { transaction in
                try transaction.get(databases.meta, key: MetaKey.policy).map { try PolicyMetadata(record: $0) }
            }
        }
    }

    // MARK: - Operations

    /// Runs the operations in order in one write transaction and commits once. Later operations
    /// see the effects of earlier ones. If the transaction fails, nothing of it is applied.
    public func perform(_ operations: [StoreOperation], now: Timestamp) throws(StoreError) -> [StoreOutcome] {
        try StoreError.wrapping {
            try journaledWrite { transaction in
                let context = OperationContext(
                    transaction: transaction, databases: databases, policyMetadataCache: policyMetadataCache,
                    makeReservationId: makeReservationId, now: now,
                    refusedReservationsReason: try refusesNewReservations ? refusedReservationsReason : nil
                )
                return try operations.map { operation in
                    switch operation {
                    case .authorize(let secret, let request):
                        return .authorized(try context.authorize(secret: secret, request: request))
                    case .settle(let request):
                        return .settled(try context.settle(request))
                    case .release(let reservationId):
                        return .released(try context.release(reservationId: reservationId))
                    case .credit(let tenantId, let micros, let memo, let requestId):
                        return .credited(try context.credit(tenantId: tenantId, micros: micros, memo: memo, requestId: requestId))
                    }
                }
            }
        }
    }

    /// True once LMDB's file reaches within `options.mapHeadroomPercent` of the map's end: new
    /// reservations are then refused, and what remains of the map is kept for finishing the ones
    /// made. Read on every batch: one `mdb_env_info`. The file never shrinks, so once true it
    /// stays true until a restart with a larger map.
    public var refusesNewReservations: Bool {
        get throws(StoreError) {
            guard options.mapHeadroomPercent > 0 else { return false }
            let info = try StoreError.wrapping { try environment.info }
            let mapPages = info.mapSizeBytes / pageSizeBytes
            let pagesBeyondFile = mapPages - (info.lastPageNumber + 1)
            return pagesBeyondFile * 100 < mapPages * options.mapHeadroomPercent
        }
    }

    private var refusedReservationsReason: String {
        "the LMDB map is nearly full (its file is within \(options.mapHeadroomPercent)% of the map's end): new reservations "
            + "are refused so that those already made can be settled; restart with a larger --map-size-bytes"
    }

    public func authorize(secret: String, request: AuthorizeRequest, now: Timestamp) throws(StoreError) -> Decision {
        guard case .authorized(let decision) = try perform([.authorize(secret: secret, request: request)], now: now)[0] else {
            preconditionFailure("perform answers each operation with its own outcome kind")
        }
        return decision
    }

    public func settle(_ request: SettleRequest, now: Timestamp) throws(StoreError) -> SettleAnswer {
        guard case .settled(let answer) = try perform([.settle(request)], now: now)[0] else {
            preconditionFailure("perform answers each operation with its own outcome kind")
        }
        return answer
    }

    public func release(reservationId: String, now: Timestamp) throws(StoreError) -> ReleaseAnswer {
        guard case .released(let answer) = try perform([.release(reservationId: reservationId)], now: now)[0] else {
            preconditionFailure("perform answers each operation with its own outcome kind")
        }
        return answer
    }

    public func credit(tenantId: String, micros: Int64, memo: String, requestId: String, now: Timestamp) throws(StoreError) -> CreditAnswer {
        guard case .credited(let answer) = try perform([.credit(tenantId: tenantId, micros: micros, memo: memo, requestId: requestId)], now: now)[0] else {
            preconditionFailure("perform answers each operation with its own outcome kind")
        }
        return answer
    }

    /// Expires open reservations whose TTL has passed and forgets finished ones past their
    /// retention, oldest first, at most `options.sweepBatchCountMax` per call.
    public func sweep(now: Timestamp) throws(StoreError) -> SweepSummary {
        try StoreError.wrapping {
            try journaledWrite { transaction in
                let context = OperationContext(
                    transaction: transaction, databases: databases, policyMetadataCache: policyMetadataCache,
                    makeReservationId: makeReservationId, now: now
                )
                return try context.sweep(countMax: options.sweepBatchCountMax)
            }
        }
    }

    // MARK: - Reads

    public func state(of scope: Scope) throws(StoreError) -> ScopeState? {
        try StoreError.wrapping {
            try environment.read { transaction in
                try transaction.get(databases.scopes, key: scope.storageKey).map { try ScopeState(record: $0) }
            }
        }
    }

    /// Every scope's state, for reconciliation and inspection.
    public func allStates() throws(StoreError) -> [Scope: ScopeState] {
        try StoreError.wrapping {
            try environment.read { transaction in try readStates(transaction) }
        }
    }

    public func reservation(id: String) throws(StoreError) -> Reservation? {
        try StoreError.wrapping {
            try environment.read { transaction in
                try transaction.get(databases.reservations, key: Array(id.utf8)).map { try Reservation(record: $0) }
            }
        }
    }

    /// Reservations still holding money, for reconciliation.
    public func openReservations() throws(StoreError) -> [Reservation] {
        try StoreError.wrapping {
            try environment.read { transaction in try readOpenReservations(transaction) }
        }
    }

    /// Outbox events with a sequence greater than `sequence`, in order, at most `countMax`.
    public func outboxEvents(after sequence: UInt64, countMax: Int) throws(StoreError) -> [LedgerEvent] {
        try StoreError.wrapping {
            try environment.read { transaction in try readOutbox(transaction, after: sequence, countMax: countMax) }
        }
    }

    /// Deletes outbox events up to and including `sequence`, once the ledger has committed them.
    /// At most `countMax` per call, so one transaction stays short. Returns how many it deleted.
    @discardableResult
    public func trimOutbox(through sequence: UInt64, countMax: Int = 10_000) throws(StoreError) -> Int {
        try StoreError.wrapping {
            try journaledWrite { transaction in
                var keys: [[UInt8]] = []
                try transaction.forEach(databases.outbox) { key, _ in
                    guard let value = BigEndianKey.value(key), value <= sequence, keys.count < countMax else { return false }
                    keys.append(key)
                    return true
                }
                for key in keys {
                    try transaction.delete(databases.outbox, key: key)
                }
                return keys.count
            }
        }
    }

    /// Every counter, the whole outbox, the open reservations and the last sequence, from one read
    /// transaction: a consistent instant for reconciliation, even while the daemon writes.
    public func snapshot(at time: Timestamp) throws(StoreError) -> (states: [Scope: ScopeState], outbox: [LedgerEvent], open: [Reservation], lastSequence: UInt64) {
        let indexes = PeriodIndexes(at: time)
        return try StoreError.wrapping {
            try environment.read { transaction in
                let states = try readStates(transaction).mapValues { $0.rolled(to: indexes) }
                let outbox = try readOutbox(transaction, after: 0, countMax: Int.max)
                let last = (try transaction.get(databases.meta, key: MetaKey.outboxNext).flatMap { BigEndianKey.value($0) } ?? 1) - 1
                return (states, outbox, try readOpenReservations(transaction), last)
            }
        }
    }

    /// Ledger events not yet drained from the outbox.
    public func outboxDepth() throws(StoreError) -> Int {
        try StoreError.wrapping {
            try environment.read { transaction in try transaction.count(databases.outbox) }
        }
    }

    /// Reservations expired by the sweeper since the data directory was created.
    public func expiredTotalCount() throws(StoreError) -> UInt64 {
        try StoreError.wrapping {
            try environment.read { transaction in
                try transaction.get(databases.meta, key: MetaKey.expiredTotal).flatMap { BigEndianKey.value($0) } ?? 0
            }
        }
    }

    // MARK: - Reads inside a transaction

    private func readStates(_ transaction: LMDBTransaction) throws -> [Scope: ScopeState] {
        var states: [Scope: ScopeState] = [:]
        try transaction.forEach(databases.scopes) { key, value in
            states[try Scope(storageKey: key)] = try ScopeState(record: value)
            return true
        }
        return states
    }

    private func readOpenReservations(_ transaction: LMDBTransaction) throws -> [Reservation] {
        var open: [Reservation] = []
        try transaction.forEach(databases.reservations) { _, value in
            let reservation = try Reservation(record: value)
            if reservation.state == .open { open.append(reservation) }
            return true
        }
        return open
    }

    private func readOutbox(_ transaction: LMDBTransaction, after sequence: UInt64, countMax: Int) throws -> [LedgerEvent] {
        var events: [LedgerEvent] = []
        try transaction.forEach(databases.outbox, from: BigEndianKey.bytes(sequence + 1)) { _, value in
            events.append(try LedgerEvent(record: value))
            return events.count < countMax
        }
        return events
    }
}

/// The C library's `close`, callable where `StateStore.close()` shadows it.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
