import Foundation
import PurserEngine
import PurserLMDB
import PurserPolicy
@testable import PurserStore
import Testing

/// An OS crash while LMDB's pages are being written back, on real LMDB files. LMDB commits
/// without fsync, so the disk may hold a commit's meta page without the pages it names: an
/// `msync` writes dirty pages in file order, meta pages (the first two) first. These tests build
/// such disks from two copies of the data file, the one a checkpoint synced and the page cache's
/// later one, and check that a start-up in another boot reopens the synced snapshot and replays
/// the journal onto it, to exactly what was acknowledged.
@Suite struct SyncedSnapshotTests {
    typealias J = StoreJournalTests
    static func options(boot: String) -> StoreOptions {
        StoreOptions(mapSizeBytes: 64 << 20, commitWithoutSync: true, writeMap: true, journal: true, bootIdentifier: boot)
    }

    static let pageBytes = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// What a machine left behind: the data file as the last checkpoint synced it, as the page
    /// cache held it at the crash, and what the acknowledged state was.
    struct Crash {
        let machine = J.Directory()
        var atCheckpoint = Data()
        var inPageCache = Data()
        var acknowledged: J.Observed?
        var checkpointTransactionId: UInt64 = 0
    }

    /// Policy load, 10 pairs, a checkpoint (the data file is copied then), 30 more pairs made
    /// durable by the journal alone, then the crash (the data file copied again, the store closed
    /// without another sync).
    static func crash() throws -> Crash {
        var crash = Crash()
        let store = try StateStore(directory: crash.machine.path, options: options(boot: "boot-1"))
        try store.loadPolicy(J.S.policy, version: "snapshot-test", now: J.S.start)
        try J.work(store, count: 10, now: J.S.start.adding(seconds: 1), prefix: "a")
        try store.checkpoint()
        crash.atCheckpoint = try Data(contentsOf: URL(fileURLWithPath: crash.machine.file("data.mdb")))
        crash.checkpointTransactionId = try #require(try SyncedSnapshot.stored(in: crash.machine.path)).transactionId
        try J.work(store, count: 30, now: J.S.start.adding(seconds: 2), prefix: "b")
        try store.makeCommitsDurable()
        crash.acknowledged = try J.observe(store)
        crash.inPageCache = try Data(contentsOf: URL(fileURLWithPath: crash.machine.file("data.mdb")))
        store.close()
        return crash
    }

    /// A machine whose disk holds `dataFile`, the journal as written, and the snapshot record.
    static func disk(of crash: Crash, dataFile: Data) throws -> J.Directory {
        let restored = J.Directory()
        try FileManager.default.createDirectory(atPath: restored.path, withIntermediateDirectories: true)
        try dataFile.write(to: URL(fileURLWithPath: restored.file("data.mdb")))
        for name in StoreJournal.fileNames + [SyncedSnapshot.fileName] {
            try FileManager.default.copyItem(atPath: crash.machine.file(name), toPath: restored.file(name))
        }
        return restored
    }

    /// The checkpoint's file with pages of the page cache's: the meta pages, and every page for
    /// which `takeNewer` says so.
    static func torn(_ crash: Crash, takeNewer: (Int) -> Bool) -> Data {
        var bytes = crash.atCheckpoint
        let newer = crash.inPageCache
        if newer.count > bytes.count { bytes.append(Data(count: newer.count - bytes.count)) }
        let pages = newer.count / pageBytes
        for page in 0..<pages where page < 2 || takeNewer(page) {
            let range = page * pageBytes..<(page + 1) * pageBytes
            bytes.replaceSubrange(range, with: newer[range])
        }
        return bytes
    }

    @Test func metaPagesWrittenBeforeTheirPagesAreCorruptionUnlessTheSyncedSnapshotIsReopened() throws {
        let crash = try Self.crash()
        let tornFile = Self.torn(crash) { _ in false }

        // Trusting the newest meta page, as LMDB does by itself, fails: the test would prove
        // nothing otherwise. (Same boot: the store believes the page cache survived.)
        let trusting = try Self.disk(of: crash, dataFile: tornFile)
        #expect(throws: StoreError.self) { _ = try StateStore(directory: trusting.path, options: Self.options(boot: "boot-1")) }

        let restarted = try Self.disk(of: crash, dataFile: tornFile)
        let recovered = try StateStore(directory: restarted.path, options: Self.options(boot: "boot-2"))
        defer { recovered.close() }
        let rollback = try #require(recovered.snapshotRollback)
        #expect(rollback.restoredTransactionId == crash.checkpointTransactionId)
        #expect(rollback.newestTransactionIdFound > crash.checkpointTransactionId)
        // 30 authorizes, 30 settles and one more authorize since the checkpoint.
        #expect(recovered.recovery?.entriesReplayed == 61)
        #expect(try J.observe(recovered) == crash.acknowledged)
    }

    /// The synced snapshot's pages are never rewritten while it is the record: with every later
    /// page on disk too (the kernel wrote them all back), reopening it still gives the same state.
    @Test func theSyncedSnapshotStaysWholeWhateverLaterPagesReachedTheDisk() throws {
        let crash = try Self.crash()
        var generator = ConservationPropertyTests.SeededGenerator(state: 7)
        for (label, tornFile) in [
            ("every page written back", crash.inPageCache),
            ("a random half written back", Self.torn(crash) { _ in generator.next() % 2 == 0 }),
        ] {
            let restarted = try Self.disk(of: crash, dataFile: tornFile)
            let recovered = try StateStore(directory: restarted.path, options: Self.options(boot: "boot-2"))
            #expect(recovered.snapshotRollback?.restoredTransactionId == crash.checkpointTransactionId, "\(label)")
            #expect(try J.observe(recovered) == crash.acknowledged, "\(label)")
            recovered.close()
        }
    }

    /// A process crash (same boot) keeps the page cache: nothing is rolled back, and authorizes
    /// that only LMDB's map held are kept.
    @Test func aRestartInTheSameBootKeepsTheNewestSnapshot() throws {
        let machine = J.Directory()
        let store = try StateStore(directory: machine.path, options: Self.options(boot: "boot-1"))
        try store.loadPolicy(J.S.policy, version: "snapshot-test", now: J.S.start)
        try store.checkpoint()
        // Not made durable: only the map (the page cache) holds these.
        try J.work(store, count: 5, now: J.S.start.adding(seconds: 1), prefix: "c")
        let expected = try J.observe(store)
        store.close()
        let reopened = try StateStore(directory: machine.path, options: Self.options(boot: "boot-1"))
        defer { reopened.close() }
        #expect(reopened.snapshotRollback == nil)
        #expect(try J.observe(reopened) == expected)
    }

    /// Every sync records the snapshot it made durable, in this boot; a record that is not one
    /// is ignored rather than trusted.
    @Test func eachSyncRecordsItsSnapshotAndADamagedRecordIsIgnored() throws {
        let machine = J.Directory()
        let store = try StateStore(directory: machine.path, options: Self.options(boot: "boot-1"))
        try store.loadPolicy(J.S.policy, version: "snapshot-test", now: J.S.start)
        try store.sync()
        let first = try #require(try SyncedSnapshot.stored(in: machine.path))
        try J.work(store, count: 3, now: J.S.start.adding(seconds: 1), prefix: "d")
        try store.sync()
        let second = try #require(try SyncedSnapshot.stored(in: machine.path))
        #expect(first.bootIdentifier == "boot-1")
        #expect(second.transactionId > first.transactionId)
        #expect(LMDBMetaPages.transactionId(of: second.metaPage) == second.transactionId)
        #expect(SyncedSnapshot(decoding: second.encoded()) == second)
        store.close()

        var damaged = second.encoded()
        damaged[damaged.count / 2] ^= 0xFF
        #expect(SyncedSnapshot(decoding: damaged) == nil)
        try Data(damaged).write(to: URL(fileURLWithPath: machine.file(SyncedSnapshot.fileName)))
        let reopened = try StateStore(directory: machine.path, options: Self.options(boot: "boot-2"))
        defer { reopened.close() }
        #expect(reopened.snapshotRollback == nil)
    }

    /// A record naming a later transaction than the data file holds (a data file restored from
    /// an older backup beside a newer record) is refused, not written over the file.
    @Test func aRecordNewerThanTheDataFileIsRefused() throws {
        let crash = try Self.crash()
        let stale = try Self.disk(of: crash, dataFile: crash.atCheckpoint)
        var newer = try #require(try SyncedSnapshot.stored(in: crash.machine.path))
        newer.metaPage = Array(crash.inPageCache.prefix(Self.pageBytes))
        newer.transactionId = try #require(LMDBMetaPages.transactionId(of: newer.metaPage))
        try newer.write(in: stale.path)
        #expect(throws: StoreError.self) { _ = try StateStore(directory: stale.path, options: Self.options(boot: "boot-2")) }
    }
}

extension SyncedSnapshotTests {
    /// The owner of a store that syncs every commit (`purser serve --sync-commits`) repairs what
    /// an earlier run without sync left, then drops the record and the journal: after a later OS
    /// crash, start-up must not go back to that record over commits that were synced. A reader
    /// beside a running daemon repairs and removes nothing.
    @Test func theOwnerOfAStoreThatSyncsEveryCommitRecoversThenForgetsTheRecordAndTheJournal() throws {
        let machine = J.Directory()
        let store = try StateStore(directory: machine.path, options: Self.options(boot: "boot-1"))
        try store.loadPolicy(J.S.policy, version: "snapshot-test", now: J.S.start)
        // As the daemon does before answering a reload: the load is durable in the journal alone.
        try store.makeCommitsDurable()
        store.close()
        #expect(try SyncedSnapshot.stored(in: machine.path) != nil)

        let reader = try StateStore(directory: machine.path, options: StoreOptions(mapSizeBytes: 64 << 20, bootIdentifier: "boot-2"))
        #expect(reader.snapshotRollback == nil)
        #expect(reader.recovery == nil)
        reader.close()
        #expect(try SyncedSnapshot.stored(in: machine.path) != nil)
        #expect(StoreJournal.filesExist(in: machine.path))

        let owner = try StateStore(
            directory: machine.path, options: StoreOptions(mapSizeBytes: 64 << 20, bootIdentifier: "boot-2", ownsDataDirectory: true)
        )
        // The record named the snapshot before the policy load; the journal brought the load back.
        #expect(owner.snapshotRollback != nil)
        #expect(owner.recovery?.entriesReplayed == 1)
        #expect(try owner.policyMetadata()?.version == "snapshot-test")
        owner.close()
        #expect(try SyncedSnapshot.stored(in: machine.path) == nil)
        #expect(!StoreJournal.filesExist(in: machine.path))
    }

    /// An OS crash under the default mode, then a start-up that syncs every commit, or keeps no
    /// journal: the torn disk is repaired from the record and the journal all the same.
    @Test(arguments: [false, true]) func aStartUpInAnotherModeAfterAnOSCrashReopensTheSnapshotAndReplays(commitWithoutSync: Bool) throws {
        let crash = try Self.crash()
        let disk = try Self.disk(of: crash, dataFile: Self.torn(crash) { _ in false })
        let options = StoreOptions(
            mapSizeBytes: 64 << 20, commitWithoutSync: commitWithoutSync, writeMap: true, journal: false, bootIdentifier: "boot-2",
            ownsDataDirectory: true
        )
        let recovered = try StateStore(directory: disk.path, options: options)
        defer { recovered.close() }
        #expect(recovered.snapshotRollback?.restoredTransactionId == crash.checkpointTransactionId)
        #expect(recovered.recovery?.entriesReplayed == 61)
        #expect(try J.observe(recovered) == crash.acknowledged)
        #expect(!StoreJournal.filesExist(in: disk.path))
    }
}
