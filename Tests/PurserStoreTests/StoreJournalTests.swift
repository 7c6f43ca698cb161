import Foundation
import PurserEngine
import PurserPolicy
@testable import PurserStore
import Testing

/// The redo journal on real LMDB files. A power loss is simulated the only way a test can: LMDB's
/// file as it was on disk at the last checkpoint (a copy taken right after the sync), with the
/// journal files as they were after the last acknowledged settle. Start-up must then rebuild
/// exactly the state the lost LMDB writes held.
@Suite struct StoreJournalTests {
    typealias S = StoreFixture
    static let options = StoreOptions(mapSizeBytes: 64 << 20, commitWithoutSync: true, journal: true)

    /// A directory for one simulated machine; removed at the end of the test.
    final class Directory {
        let path = NSTemporaryDirectory() + "purser-journal-" + UUID().uuidString
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
    }

    /// Everything a power loss must not change: counters, open reservations and the outbox.
    struct Observed: Equatable {
        var states: [Scope: ScopeState]
        var open: [String]
        var outbox: [LedgerEvent]
    }

    static func observe(_ store: StateStore) throws -> Observed {
        Observed(
            states: try store.allStates(),
            open: try store.openReservations().map(\.id).sorted(),
            outbox: try store.outboxEvents(after: 0, countMax: 1_000_000)
        )
    }

    /// Authorizes and settles `count` requests (alternating keys), as separate commits, and
    /// leaves one more reservation open.
    static func work(_ store: StateStore, count: Int, now: Timestamp, prefix: String) throws {
        for index in 0..<count {
            let secret = index % 2 == 0 ? S.secrets.acmeProd : S.secrets.globex
            let decision = try store.authorize(
                secret: secret,
                request: AuthorizeRequest(requestId: "\(prefix)-\(index)", model: "gpt-5.4-mini", tags: [], estimate: .micros(2_000)),
                now: now
            )
            guard case .allow(let allowance) = decision else { Issue.record("denied: \(decision)"); return }
            _ = try store.settle(SettleRequest(reservationId: allowance.reservationId, cost: .micros(Int64(1_000 + index)), status: .ok), now: now)
        }
        _ = try store.authorize(
            secret: S.secrets.acmeProd,
            request: AuthorizeRequest(requestId: "\(prefix)-open", model: "gpt-5.4-mini", tags: [], estimate: .micros(3_000)),
            now: now
        )
    }

    /// Runs a store through: policy load, checkpoint (LMDB's file is copied then: "what the disk
    /// held"), `count` pairs made durable through the journal only, close. Returns what the
    /// store held at the end and the copy.
    static func runUntilPowerLoss(in machine: Directory, count: Int) throws -> (Observed, lmdbAtCheckpoint: Data) {
        let store = try StateStore(directory: machine.path, options: options)
        defer { store.close() }
        try store.loadPolicy(S.policy, version: "journal-test", now: S.start)
        try store.checkpoint()
        let lmdbAtCheckpoint = try Data(contentsOf: URL(fileURLWithPath: machine.file("data.mdb")))
        try work(store, count: count, now: S.start.adding(seconds: 1), prefix: "p")
        try store.makeCommitsDurable()
        return (try observe(store), lmdbAtCheckpoint)
    }

    /// A second machine whose disk holds LMDB as of the checkpoint and the journal as written.
    static func afterPowerLoss(of machine: Directory, lmdbAtCheckpoint: Data) throws -> Directory {
        let restored = Directory()
        try FileManager.default.createDirectory(atPath: restored.path, withIntermediateDirectories: true)
        try lmdbAtCheckpoint.write(to: URL(fileURLWithPath: restored.file("data.mdb")))
        for name in StoreJournal.fileNames {
            try FileManager.default.copyItem(atPath: machine.file(name), toPath: restored.file(name))
        }
        return restored
    }

    @Test func startUpReplaysEveryCommitLMDBLostSinceTheCheckpoint() throws {
        let machine = Directory()
        let (before, lmdbAtCheckpoint) = try Self.runUntilPowerLoss(in: machine, count: 40)
        let restored = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAtCheckpoint)

        // Without the journal, the copy really is behind: the test would prove nothing otherwise.
        // (Read as a reader beside a daemon would: not the directory's owner, so it repairs nothing.)
        let behind = try StateStore(directory: restored.path, options: StoreOptions(mapSizeBytes: 64 << 20))
        let lost = try Self.observe(behind)
        behind.close()
        #expect(lost != before)
        #expect(lost.outbox.isEmpty)

        let recovered = try StateStore(directory: restored.path, options: Self.options)
        defer { recovered.close() }
        // 40 authorizes, 40 settles and one more authorize, each its own commit.
        #expect(recovered.recovery?.entriesReplayed == 81)
        #expect(recovered.recovery?.entriesAfterHole == 0)
        #expect(try Self.observe(recovered) == before)
        #expect(try Self.observe(recovered).outbox.count == 40)

        // Idempotency survived too: the retried settle is a replay, charging nothing more.
        let open = try recovered.openReservations()
        #expect(open.count == 1)
        let retried = try recovered.authorize(
            secret: S.secrets.acmeProd,
            request: AuthorizeRequest(requestId: "p-open", model: "gpt-5.4-mini", tags: [], estimate: .micros(3_000)),
            now: S.start.adding(seconds: 2)
        )
        guard case .allow(let allowance) = retried else { Issue.record("\(retried)"); return }
        #expect(allowance.reservationId == open[0].id)
    }

    /// A power loss under the journal, then a start-up that keeps none (`--sync-commits`, or
    /// `--no-journal`): the journal the earlier run left is replayed all the same, since it holds
    /// settles that were acknowledged; then it is deleted, so that a later journaled start never
    /// replays its entries onto the store that moved on (their transaction ids repeat).
    @Test(arguments: [false, true]) func aStartUpWithoutAJournalReplaysTheOneAnEarlierRunLeftThenDeletesIt(commitWithoutSync: Bool) throws {
        let machine = Directory()
        let (before, lmdbAtCheckpoint) = try Self.runUntilPowerLoss(in: machine, count: 20)
        let restored = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAtCheckpoint)
        let options = StoreOptions(mapSizeBytes: 64 << 20, commitWithoutSync: commitWithoutSync, journal: false, ownsDataDirectory: true)
        let movedOn: Observed
        do {
            let store = try StateStore(directory: restored.path, options: options)
            defer { store.close() }
            // 20 authorizes, 20 settles and one more authorize.
            #expect(store.recovery?.entriesReplayed == 41)
            #expect(try Self.observe(store) == before)
            try Self.work(store, count: 5, now: S.start.adding(seconds: 3), prefix: "s")
            movedOn = try Self.observe(store)
        }
        #expect(!StoreJournal.filesExist(in: restored.path))

        let journaled = try StateStore(directory: restored.path, options: Self.options)
        defer { journaled.close() }
        #expect(journaled.recovery?.entriesReplayed == 0)
        #expect(try Self.observe(journaled) == movedOn)
    }

    @Test func aRecoveredStoreKeepsJournalingAndRecoversAgain() throws {
        let machine = Directory()
        let (_, lmdbAtCheckpoint) = try Self.runUntilPowerLoss(in: machine, count: 10)
        let restored = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAtCheckpoint)

        // The recovered store syncs LMDB and empties the journal; then a second power loss.
        let second: (Observed, Data)
        do {
            let store = try StateStore(directory: restored.path, options: Self.options)
            defer { store.close() }
            #expect(store.recovery?.entriesReplayed == 21)
            let copy = try Data(contentsOf: URL(fileURLWithPath: restored.file("data.mdb")))
            try Self.work(store, count: 7, now: S.start.adding(seconds: 5), prefix: "q")
            try store.makeCommitsDurable()
            second = (try Self.observe(store), copy)
        }
        let again = try Self.afterPowerLoss(of: restored, lmdbAtCheckpoint: second.1)
        let store = try StateStore(directory: again.path, options: Self.options)
        defer { store.close() }
        #expect(store.recovery?.entriesReplayed == 15)
        #expect(try Self.observe(store) == second.0)
    }

    @Test func checkpointsLetTheJournalStartOverAndRecoveryStillCoversEverything() throws {
        let machine = Directory()
        let store = try StateStore(directory: machine.path, options: Self.options)
        try store.loadPolicy(S.policy, version: "journal-test", now: S.start)
        try Self.work(store, count: 5, now: S.start, prefix: "a")
        try store.checkpoint()
        try Self.work(store, count: 5, now: S.start, prefix: "b")
        try store.checkpoint()
        let lmdbAtCheckpoint = try Data(contentsOf: URL(fileURLWithPath: machine.file("data.mdb")))
        try Self.work(store, count: 3, now: S.start, prefix: "c")
        try store.makeCommitsDurable()
        let before = try Self.observe(store)
        store.close()

        let restored = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAtCheckpoint)
        let recovered = try StateStore(directory: restored.path, options: Self.options)
        defer { recovered.close() }
        // Only what followed the last checkpoint is replayed; the older entries (still in the other
        // file) are already in LMDB and skipped.
        #expect(recovered.recovery?.entriesReplayed == 7)
        #expect(recovered.recovery.map { $0.entriesRead > 7 } == true)
        #expect(try Self.observe(recovered) == before)
    }

    @Test func aTornLastEntryIsIgnoredAndEverythingBeforeItReplayed() throws {
        let machine = Directory()
        let (_, lmdbAtCheckpoint) = try Self.runUntilPowerLoss(in: machine, count: 4)
        let restored = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAtCheckpoint)
        // The crash cut the last entry's write short. The checkpoint switched appends to the
        // second file.
        let active = restored.file(StoreJournal.fileNames[1])
        let size = try FileManager.default.attributesOfItem(atPath: active)[.size] as! Int
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: active))
        try handle.truncate(atOffset: UInt64(size - 3))
        try handle.close()

        let recovered = try StateStore(directory: restored.path, options: Self.options)
        defer { recovered.close() }
        #expect(recovered.recovery?.entriesReplayed == 8)
        // The last entry was the open authorize: its reservation is gone, every settle is there.
        #expect(try recovered.openReservations().isEmpty)
        #expect(try recovered.outboxEvents(after: 0, countMax: 100).count == 4)
    }

    @Test func entriesAfterAMissingOneAreNotReplayed() throws {
        let machine = Directory()
        let (_, lmdbAtCheckpoint) = try Self.runUntilPowerLoss(in: machine, count: 4)
        let restored = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAtCheckpoint)
        // Corrupt one byte of the first entry's records: its checksum fails, so the file is read
        // only up to it, and every later entry is past a hole.
        let active = restored.file(StoreJournal.fileNames[1])
        var contents = try Data(contentsOf: URL(fileURLWithPath: active))
        contents[StoreJournal.fileHeaderBytesCount + StoreJournal.entryHeaderBytesCount + 2] ^= 0xFF
        try contents.write(to: URL(fileURLWithPath: active))

        let recovered = try StateStore(directory: restored.path, options: Self.options)
        defer { recovered.close() }
        #expect(recovered.recovery?.entriesReplayed == 0)
        #expect(try recovered.outboxEvents(after: 0, countMax: 100).isEmpty)
    }

    @Test func aTransactionTooLargeToJournalIsMadeDurableByLMDBAndReplayStopsBeforeIt() throws {
        // A policy load larger than one entry may hold: it is not journaled, so the journal has a
        // hole there, and durability must come from LMDB until a sync covers the hole.
        let machine = Directory()
        var options = Self.options
        options.journalEntryBytesMax = 1_500  // the load logs ~2,100 bytes, an authorize ~760, a settle ~1,100
        let store = try StateStore(directory: machine.path, options: options)
        try store.checkpoint()
        let lmdbBeforeTheLoad = try Data(contentsOf: URL(fileURLWithPath: machine.file("data.mdb")))
        try store.loadPolicy(S.policy, version: "journal-test", now: S.start)
        try Self.work(store, count: 3, now: S.start, prefix: "h")
        try store.makeCommitsDurable()  // must sync LMDB, not the journal
        try store.writeJournal()  // as the checkpointer does: the entries past the hole reach the file
        let lmdbAfterTheSync = try Data(contentsOf: URL(fileURLWithPath: machine.file("data.mdb")))
        let before = try Self.observe(store)
        store.close()

        // What the disk held after the acknowledgement: LMDB has everything, nothing to replay.
        let synced = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbAfterTheSync)
        do {
            let recovered = try StateStore(directory: synced.path, options: options)
            defer { recovered.close() }
            #expect(recovered.recovery?.entriesReplayed == 0)
            #expect(try Self.observe(recovered) == before)
        }
        // Had the power failed before that sync, nothing after the hole was acknowledged as
        // durable, and recovery must not apply the entries beyond it onto a store without the load.
        let early = try Self.afterPowerLoss(of: machine, lmdbAtCheckpoint: lmdbBeforeTheLoad)
        let recovered = try StateStore(directory: early.path, options: options)
        defer { recovered.close() }
        #expect(recovered.recovery?.entriesReplayed == 0)
        #expect(recovered.recovery?.entriesAfterHole == 7)
        #expect(try recovered.policyMetadata() == nil)
    }

    @Test func entriesWaitInMemoryUntilASyncACheckpointOrAWriteAsksForThem() throws {
        let machine = Directory()
        let store = try StateStore(directory: machine.path, options: Self.options)
        defer { store.close() }
        try store.loadPolicy(S.policy, version: "journal-test", now: S.start)
        try store.checkpoint()
        func size(_ index: Int) throws -> Int {
            try FileManager.default.attributesOfItem(atPath: machine.file(StoreJournal.fileNames[index]))[.size] as! Int
        }
        let header = StoreJournal.fileHeaderBytesCount
        try Self.work(store, count: 2, now: S.start, prefix: "m")
        #expect(try size(1) == header)  // appends are copies into memory
        #expect(!store.isJournalWriteDue)
        try store.writeJournal()
        let written = try size(1)
        #expect(written > header)
        try Self.work(store, count: 1, now: S.start, prefix: "n")
        try store.checkpoint()  // writes what waits to the file it leaves, then switches
        #expect(try size(1) > written)
    }

    @Test func aJournalIsNeverReplayedOntoAnotherStore() throws {
        let machine = Directory()
        _ = try Self.runUntilPowerLoss(in: machine, count: 3)
        let other = Directory()
        do {
            let store = try StateStore(directory: other.path, options: Self.options)
            try store.loadPolicy(S.policy, version: "journal-test", now: S.start)
            store.close()
        }
        for name in StoreJournal.fileNames {
            try FileManager.default.removeItem(atPath: other.file(name))
            try FileManager.default.copyItem(atPath: machine.file(name), toPath: other.file(name))
        }
        let store = try StateStore(directory: other.path, options: Self.options)
        defer { store.close() }
        #expect(store.recovery?.entriesRead == 0)
        #expect(try store.outboxEvents(after: 0, countMax: 100).isEmpty)
    }

    @Test func entryScanStopsAtOlderEntriesLeftBehindInAReusedFile() throws {
        // A file reused from its header on: three new entries (ids 10-12) overwrite the start of
        // five older ones (ids 3-7); the scan must end after id 12.
        func entry(_ id: UInt64, _ payload: [UInt8]) -> [UInt8] {
            let checksum = payload.withUnsafeBytes { JournalChecksum.of($0, seed: id ^ UInt64(payload.count) << 40) }
            var bytes: [UInt8] = []
            withUnsafeBytes(of: StoreJournal.entryMagic.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: UInt32(payload.count).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: id.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: checksum.littleEndian) { bytes += $0 }
            return bytes + payload
        }
        let header = [UInt8](repeating: 0, count: StoreJournal.fileHeaderBytesCount)
        let old = (3...7).flatMap { entry($0, [UInt8](repeating: UInt8($0), count: 40)) }
        let new = (10...12).flatMap { entry($0, [UInt8](repeating: UInt8($0), count: 40)) }
        var file = header + old
        file.replaceSubrange(header.count..<header.count + new.count, with: new)
        let ids = file.withUnsafeBytes { StoreJournal.entries(in: $0).map(\.transactionId) }
        #expect(ids == [10, 11, 12])
        // Had the new entries been shorter, the scan would land inside an old one: still stops.
        var shifted = header + old
        let short = entry(10, [1, 2, 3])
        shifted.replaceSubrange(header.count..<header.count + short.count, with: short)
        #expect(shifted.withUnsafeBytes { StoreJournal.entries(in: $0).map(\.transactionId) } == [10])
    }
}
