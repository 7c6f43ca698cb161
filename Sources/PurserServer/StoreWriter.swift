import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PurserEngine
import PurserPolicy
import PurserStore

/// The one writer of LMDB: batches whatever arrived since its last commit into one transaction.
///
/// LMDB admits one write transaction at a time anyway; funnelling every write through one place
/// turns that constraint into throughput. The writer runs on an event loop, the one that serves
/// the connections by default: requests read in one loop tick are queued, and one task at the end
/// of the tick commits them all and answers them. So an authorize costs no thread hop at all (a
/// cross-CPU wake-up is ~45 µs each way on our VMs, more than the whole decision), and a busy loop
/// batches as many requests as arrived together. Each batch commits without fsync, so authorize
/// replies go out as soon as the commit is in the OS (it survives `kill -9`). Operations whose
/// answer promises durability (settle, credit, reload) are handed to a syncer thread, which
/// `fdatasync`s the redo journal (`StateStore.makeCommitsDurable`) and only then answers them;
/// meanwhile the loop already serves and commits the next batch. A checkpointer thread syncs LMDB
/// itself once per sweep tick (`StateStore.checkpoint`), so the journal can start over.
public final class StoreWriter: @unchecked Sendable {
    public typealias Completion<Value> = @Sendable (Result<Value, StoreError>) -> Void

    enum Work {
        case operation(StoreOperation, Completion<StoreOutcome>)
        case sweep(Completion<SweepSummary>)
        case loadPolicy(PreparedPolicy, PolicyDifference?, Completion<PolicyLoadSummary>)
        case trimOutbox(through: UInt64, Completion<Int>)
    }

    /// Counters for `status` and the benchmarks. Read under the writer's lock.
    public struct Statistics: Sendable {
        public var batchesCommitted: Int64 = 0
        public var operationsCommitted: Int64 = 0
        /// Syncs that made answers durable: of the journal, or of LMDB where there is no journal.
        public var syncs: Int64 = 0
        /// Syncs of LMDB itself that let the journal start over (`StateStore.checkpoint`).
        public var checkpoints: Int64 = 0
        /// Index `i` counts batches of `2^(i-1)+1 ... 2^i` operations (index 0: batches of 1).
        public var batchSizeHistogram: [Int64] = Array(repeating: 0, count: 16)
    }

    private let store: StateStore
    private let eventLoop: EventLoop
    private let clock: @Sendable () -> Timestamp
    private let batchOperationsMax: Int
    /// True when every commit is already synced by LMDB itself (`--sync-commits`); no operation
    /// then needs the syncer.
    private let commitsAreSynced: Bool
    private let logger: Logger

    /// Guards `queue`, `flushScheduled`, `accepting` and `statistics`. Submissions come from the
    /// loop itself (requests) and from other threads (sweeper, ledger, reloader).
    private let lock = NIOLock()
    private var queue: [Work] = []
    private var flushScheduled = false
    private var accepting = true
    private var statistics = Statistics()

    private let syncCondition = NSCondition()
    private var syncQueue: [() -> Void] = []
    private var syncStopping = false
    private var syncFinished = false

    /// Checkpoints run on a thread of their own: syncing a second of LMDB's pages can take tens of
    /// milliseconds, and settles answered meanwhile need only the journal's `fdatasync`.
    private let checkpointCondition = NSCondition()
    private var isCheckpointRequested = false
    private var isJournalWriteRequested = false
    private var checkpointStopping = false
    private var checkpointFinished = false
    /// `store.refusesNewReservations` as the checkpointer last logged it. Checkpointer thread only.
    private var loggedRefusingNewReservations = false

    public init(
        store: StateStore, eventLoop: EventLoop, batchOperationsMax: Int, logger: Logger,
        clock: @escaping @Sendable () -> Timestamp = WallClock.now
    ) {
        self.store = store
        self.eventLoop = eventLoop
        self.batchOperationsMax = batchOperationsMax
        self.commitsAreSynced = !store.options.commitWithoutSync
        self.logger = logger
        self.clock = clock
    }

    /// Starts the syncer and checkpointer threads.
    public func start() {
        let syncer = Thread { [self] in syncLoop() }
        syncer.name = "purser-syncer"
        syncer.start()
        let checkpointer = Thread { [self] in checkpointLoop() }
        checkpointer.name = "purser-checkpointer"
        checkpointer.start()
    }

    /// Refuses new work, commits everything queued, fsyncs what needs it, and returns once the
    /// syncer stopped. The caller then closes the store; the event loop must still be running.
    public func stop() async {
        lock.withLock { accepting = false }
        // Whatever was queued before `accepting` fell is committed by this flush (or was by one
        // already scheduled); nothing can be queued after it.
        try? await eventLoop.submit { self.flush() }.get()
        stopSyncer()
    }

    /// Lets the syncer answer what it holds (one last fsync) and waits for it to end: a short,
    /// bounded wait, once, at shutdown.
    private func stopSyncer() {
        syncCondition.lock()
        syncStopping = true
        syncCondition.broadcast()
        while !syncFinished { syncCondition.wait() }
        syncCondition.unlock()
        checkpointCondition.lock()
        checkpointStopping = true
        checkpointCondition.broadcast()
        while !checkpointFinished { checkpointCondition.wait() }
        checkpointCondition.unlock()
    }

    /// Unmaps the store's pages from this process; they stay cached by the OS. Any thread: it is
    /// no write.
    public func releaseMappedPages() throws(StoreError) {
        try store.releaseMappedPages()
    }

    public var currentStatistics: Statistics {
        lock.withLock { statistics }
    }

    // MARK: Submitting

    /// Queues an operation; `completion` runs on the writer's event loop or the syncer thread.
    public func submit(_ operation: StoreOperation, completion: @escaping Completion<StoreOutcome>) {
        enqueue(.operation(operation, completion)) { completion(.failure(.shuttingDown)) }
    }

    public func sweep(completion: @escaping Completion<SweepSummary>) {
        enqueue(.sweep(completion)) { completion(.failure(.shuttingDown)) }
    }

    /// Deletes outbox events the ledger has committed. Not fsynced: if a crash undoes it, the
    /// ledger skips the events again by its high-water mark.
    public func trimOutbox(through sequence: UInt64, completion: @escaping Completion<Int>) {
        enqueue(.trimOutbox(through: sequence, completion)) { completion(.failure(.shuttingDown)) }
    }

    /// Stores a policy whose records were prepared, and its difference from the stored policy
    /// computed, off the loop (`PreparedPolicy`, `policyDifference`): the loop only writes what
    /// changed. Without a difference, or if another load came between, the loop compares itself.
    public func loadPolicy(
        _ prepared: PreparedPolicy, difference: PolicyDifference?, completion: @escaping Completion<PolicyLoadSummary>
    ) {
        enqueue(.loadPolicy(prepared, difference, completion)) { completion(.failure(.shuttingDown)) }
    }

    /// What loading `prepared` would change; any thread (a read transaction).
    public func policyDifference(_ prepared: PreparedPolicy) throws(StoreError) -> PolicyDifference {
        try store.policyDifference(prepared)
    }

    private func enqueue(_ work: Work, refused: () -> Void) {
        let (isAccepted, needsFlush): (Bool, Bool) = lock.withLock {
            guard accepting else { return (false, false) }
            queue.append(work)
            defer { flushScheduled = true }
            return (true, !flushScheduled)
        }
        guard isAccepted else {
            refused()
            return
        }
        // A task queued from the loop runs after the loop has handled every read of this tick, so
        // all requests that arrived together share one commit.
        if needsFlush { eventLoop.execute { self.flush() } }
    }

    // MARK: On the event loop

    private func flush() {
        eventLoop.preconditionInEventLoop()
        let work: [Work] = lock.withLock {
            flushScheduled = false
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        if !work.isEmpty { run(work) }
    }

    private func run(_ work: [Work]) {
        var operations: [StoreOperation] = []
        var completions: [Completion<StoreOutcome>] = []
        func commitOperations() {
            guard !operations.isEmpty else { return }
            commit(operations, completions)
            operations.removeAll(keepingCapacity: true)
            completions.removeAll(keepingCapacity: true)
        }
        for item in work {
            switch item {
            case .operation(let operation, let completion):
                operations.append(operation)
                completions.append(completion)
                if operations.count >= batchOperationsMax { commitOperations() }
            case .sweep(let completion):
                commitOperations()
                let result = Result { () throws(StoreError) in try store.sweep(now: clock()) }
                completion(result)
                // The sweep tick doubles as the periodic checkpoint: it bounds to one tick what a
                // power loss can take of commits that promised only process-crash durability, and
                // the journal a replay must read.
                requestCheckpoint()
            case .trimOutbox(let sequence, let completion):
                commitOperations()
                completion(Result { () throws(StoreError) in try store.trimOutbox(through: sequence) })
            case .loadPolicy(let prepared, let difference, let completion):
                // Operations queued before the reload are decided under the old policy.
                commitOperations()
                let result = Result { () throws(StoreError) in try store.loadPolicy(prepared, difference: difference, now: clock()) }
                // A reload is as durable as a settle: it must not be lost with a crash. (One too
                // large to journal makes the syncer sync LMDB; see `makeCommitsDurable`.) A
                // checkpoint follows, so the journal does not keep the policy's records.
                handOffForSync { completion(result) }
                requestCheckpoint()
            }
        }
        commitOperations()
    }

    private func commit(_ operations: [StoreOperation], _ completions: [Completion<StoreOutcome>]) {
        let outcomes: [StoreOutcome]
        do {
            outcomes = try store.perform(operations, now: clock())
        } catch {
            logger.error("group commit failed; answering its operations as unavailable", metadata: ["error": "\(error)", "operations": "\(operations.count)"])
            for completion in completions { completion(.failure(error)) }
            return
        }
        lock.withLock {
            statistics.batchesCommitted += 1
            statistics.operationsCommitted += Int64(operations.count)
            let bucket = min(statistics.batchSizeHistogram.count - 1, Int.bitWidth - (operations.count - 1).leadingZeroBitCount)
            statistics.batchSizeHistogram[bucket] += 1
        }

        if commitsAreSynced {
            for (index, outcome) in outcomes.enumerated() { completions[index](.success(outcome)) }
            return
        }
        var durable: [() -> Void] = []
        for (index, outcome) in outcomes.enumerated() {
            let completion = completions[index]
            switch operations[index] {
            case .settle, .credit:
                durable.append { completion(.success(outcome)) }
            case .authorize, .release:
                completion(.success(outcome))
            }
        }
        if !durable.isEmpty {
            handOffForSync { for answer in durable { answer() } }
        }
        if store.isCheckpointDue {
            requestCheckpoint()
        } else if store.isJournalWriteDue {
            requestCheckpoint(journalWriteOnly: true)
        }
    }

    // MARK: The syncer thread

    private func handOffForSync(_ answer: @escaping () -> Void) {
        syncCondition.lock()
        syncQueue.append(answer)
        syncCondition.signal()
        syncCondition.unlock()
    }

    /// Asks the checkpointer for a checkpoint, or only to write the journal entries waiting in
    /// memory (no fsync; a checkpoint writes them too). Requests made while one is pending are the
    /// same request.
    private func requestCheckpoint(journalWriteOnly: Bool = false) {
        checkpointCondition.lock()
        if journalWriteOnly { isJournalWriteRequested = true } else { isCheckpointRequested = true }
        checkpointCondition.signal()
        checkpointCondition.unlock()
    }

    private func syncLoop() {
        while true {
            syncCondition.lock()
            while syncQueue.isEmpty && !syncStopping { syncCondition.wait() }
            if syncQueue.isEmpty && syncStopping {
                syncFinished = true
                syncCondition.broadcast()
                syncCondition.unlock()
                return
            }
            let answers = syncQueue
            syncQueue.removeAll(keepingCapacity: true)
            syncCondition.unlock()
            // Everything these answers describe was committed before they were queued, so one
            // sync now covers all of them.
            do {
                try store.makeCommitsDurable()
                lock.withLock { statistics.syncs += 1 }
            } catch {
                // Committed but maybe not durable: the process must not claim otherwise. Crashing
                // keeps the promise "acknowledged means on disk"; the restart re-reads what is.
                logger.critical("fsync failed; stopping so that no settle is acknowledged without being durable", metadata: ["error": "\(error)"])
                fatalError("fsync failed: \(error)")
            }
            for answer in answers { answer() }
        }
    }

    /// Says once, at the next checkpoint, when the store starts refusing new reservations for want
    /// of map: every refused authorize says why too, but an operator needs the moment.
    private func logMapHeadroomChange() {
        guard let refusing = try? store.refusesNewReservations, refusing != loggedRefusingNewReservations else { return }
        loggedRefusingNewReservations = refusing
        let metadata: Logger.Metadata = [
            "map_headroom_percent": "\(store.options.mapHeadroomPercent)", "map_size_bytes": "\(store.options.mapSizeBytes)",
        ]
        if refusing {
            logger.error("the LMDB map is nearly full: refusing new reservations so that those already made can be settled; restart with a larger --map-size-bytes", metadata: metadata)
        } else {
            logger.notice("the LMDB map has room again: new reservations are taken", metadata: metadata)
        }
    }

    private func checkpointLoop() {
        while true {
            checkpointCondition.lock()
            while !isCheckpointRequested && !isJournalWriteRequested && !checkpointStopping { checkpointCondition.wait() }
            if checkpointStopping {
                // The service syncs LMDB once more after the writer stopped.
                checkpointFinished = true
                checkpointCondition.broadcast()
                checkpointCondition.unlock()
                return
            }
            let isCheckpoint = isCheckpointRequested
            isCheckpointRequested = false
            isJournalWriteRequested = false
            checkpointCondition.unlock()
            do {
                if isCheckpoint {
                    // Writes the journal's waiting entries too.
                    try store.checkpoint()
                    lock.withLock { statistics.checkpoints += 1 }
                    logMapHeadroomChange()
                } else {
                    try store.writeJournal()
                }
            } catch {
                // The journal's older file may be overwritten only once LMDB is durable: a failed
                // sync leaves no safe way on.
                logger.critical("checkpoint or journal write failed; stopping so that no settle is acknowledged without being durable", metadata: ["error": "\(error)"])
                fatalError("checkpoint failed: \(error)")
            }
        }
    }
}
