import Logging
import NIOConcurrencyHelpers
import PurserLedger
import PurserPolicy
import PurserStore
import ServiceLifecycle

/// Drains the LMDB outbox into the SQLite ledger, in batches, exactly once.
///
/// Each flush appends up to `batchEventsMax` events to SQLite, moving the high-water mark in the
/// same SQLite transaction, and only then asks the writer to trim them from the outbox. A crash
/// between the two leaves events in both places; the next flush skips them by the mark. If SQLite
/// cannot write (disk full, read-only), the events stay in the outbox and the flush is retried:
/// the ledger lags, nothing is lost.
final class LedgerService: Service {
    struct Lag: Sendable {
        var highWater: UInt64 = 0
        var lastError: String?
    }

    let ledgerPath: String
    let store: StateStore
    let writer: StoreWriter
    let logger: Logger
    let flushIntervalMilliseconds: Int64
    let batchEventsMax: Int
    let pollIntervalMilliseconds: Int64 = 50
    /// How often old events are pruned when the policy sets `ledger_retention`.
    let pruneIntervalSeconds: Int64 = 3_600
    private let lag = NIOLockedValueBox(Lag())

    init(ledgerPath: String, store: StateStore, writer: StoreWriter, logger: Logger, flushIntervalMilliseconds: Int64, batchEventsMax: Int) {
        self.ledgerPath = ledgerPath
        self.store = store
        self.writer = writer
        self.logger = logger
        self.flushIntervalMilliseconds = flushIntervalMilliseconds
        self.batchEventsMax = batchEventsMax
    }

    var currentLag: Lag { lag.withLockedValue { $0 } }

    func run() async throws {
        var ledger: LedgerDatabase?
        var lastFlush = WallClock.monotonicNanoseconds()
        var lastPrune: Int64 = 0
        while true {
            let shuttingDown = Task.isShuttingDownGracefully || Task.isCancelled
            do {
                if ledger == nil {
                    ledger = try LedgerDatabase(path: ledgerPath)
                    let highWater = try ledger!.highWaterSequence()
                    lag.withLockedValue { $0.highWater = highWater }
                    // Events a crash left in the outbox after their SQLite commit.
                    await trim(through: highWater)
                }
                let now = WallClock.monotonicNanoseconds()
                let depth = try store.outboxDepth()
                let due = now - lastFlush >= flushIntervalMilliseconds * 1_000_000 || depth >= batchEventsMax || shuttingDown
                if due && depth > 0 {
                    // On shutdown everything is drained; otherwise one batch per turn.
                    repeat {
                        let moved = try await flush(ledger!)
                        if moved < batchEventsMax { break }
                    } while shuttingDown
                    lastFlush = now
                } else if due {
                    lastFlush = now
                }
                if now - lastPrune >= pruneIntervalSeconds * 1_000_000_000 {
                    lastPrune = now
                    try prune(ledger!)
                }
                lag.withLockedValue { $0.lastError = nil }
            } catch {
                let message = "\(error)"
                let repeated = lag.withLockedValue { state -> Bool in
                    defer { state.lastError = message }
                    return state.lastError == message
                }
                if !repeated {
                    logger.error("the ledger cannot be written; events stay in the outbox and will be drained later", metadata: ["error": "\(message)"])
                }
                ledger?.close()
                ledger = nil
            }
            if shuttingDown { break }
            try? await Task.sleep(nanoseconds: UInt64(pollIntervalMilliseconds) * 1_000_000)
        }
        ledger?.close()
        logger.info("ledger closed", metadata: ["high_water": "\(currentLag.highWater)"])
    }

    /// Moves one batch; returns how many events it read from the outbox.
    private func flush(_ ledger: LedgerDatabase) async throws -> Int {
        let highWater = try ledger.highWaterSequence()
        let events = try store.outboxEvents(after: highWater, countMax: batchEventsMax)
        guard !events.isEmpty else { return 0 }
        let newHighWater = try ledger.append(events)
        lag.withLockedValue { $0.highWater = newHighWater }
        await trim(through: newHighWater)
        return events.count
    }

    private func trim(through sequence: UInt64) async {
        guard sequence > 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writer.trimOutbox(through: sequence) { [logger] result in
                if case .failure(let error) = result, case .shuttingDown = error {} else if case .failure(let error) = result {
                    logger.error("outbox trim failed; it will be retried", metadata: ["error": "\(error)"])
                }
                continuation.resume()
            }
        }
    }

    private func prune(_ ledger: LedgerDatabase) throws {
        guard let retention = try store.policyMetadata()?.defaults.ledgerRetentionSeconds else { return }
        let deleted = try ledger.prune(before: WallClock.now().adding(seconds: -retention))
        if deleted > 0 {
            logger.info("pruned ledger events past retention", metadata: ["events": "\(deleted)", "retention_seconds": "\(retention)"])
        }
    }
}
