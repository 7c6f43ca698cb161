import Logging
import NIOPosix
import NIOConcurrencyHelpers
import PurserLedger
import PurserPolicy
import PurserStore
import ServiceLifecycle

/// `purser serve`: checks everything that can be checked before touching state, then assembles
/// the services in one `ServiceGroup`.
public enum PurserDaemon {
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func run(configuration: ServerConfiguration, logger: Logger) async throws {
        MemoryTrim.useOneArena()
        let (store, lock, onStoreError) = try prepare(configuration: configuration, logger: logger)
        MemoryTrim.releaseFreedMemory()

        // 4. The services, started in this order and shut down in the reverse one.
        // The connections' event loops. The writer commits on the first: with the default single
        // loop, a request is read, decided, committed and answered without leaving its thread.
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreadsCount)
        let writer = StoreWriter(
            store: store, eventLoop: eventLoops.next(), batchOperationsMax: configuration.batchOperationsMax, logger: logger
        )
        let storeErrorPolicy = NIOLockedValueBox(onStoreError)
        let reloader = PolicyReloader(path: configuration.policyPath, writer: writer, logger: logger) { defaults in
            storeErrorPolicy.withLockedValue { $0 = defaults.onStoreError }
        }
        let connections = ConnectionRegistry(connectionsMax: configuration.connectionsMax)
        let ledger = LedgerService(
            ledgerPath: configuration.dataDirectory + "/" + LedgerDatabase.fileName, store: store, writer: writer, logger: logger,
            flushIntervalMilliseconds: configuration.ledgerFlushIntervalMilliseconds, batchEventsMax: configuration.ledgerBatchEventsMax
        )
        let processor = RequestProcessor(
            writer: writer, store: store, reloader: reloader, connections: connections, ledger: ledger, storeErrorPolicy: storeErrorPolicy
        )
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: StoreWriterService(writer: writer, store: store, logger: logger)),
                // After the sockets drained and before the writer stops: the last events are
                // drained into the ledger and trimmed from the outbox.
                .init(service: ledger),
                .init(service: ExpirySweeperService(writer: writer, intervalMilliseconds: configuration.sweepIntervalMilliseconds, logger: logger)),
                .init(service: ReloadOnHangupService(reloader: reloader)),
                .init(service: SocketServerService(
                    configuration: configuration, eventLoops: eventLoops, processor: processor, connections: connections, logger: logger
                )),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        do {
            try await group.run()
        } catch {
            try? await eventLoops.shutdownGracefully()
            throw error
        }
        // Last: the writer, which commits on a loop, has stopped.
        try? await eventLoops.shutdownGracefully()
        withExtendedLifetime(lock) {}
        logger.info("stopped cleanly")
    }

    /// Steps 1 to 3 of start-up. The parsed policy lives only in here: once it is in LMDB the
    /// daemon needs none of it in memory, which matters with 100,000 keys.
    static func prepare(configuration: ServerConfiguration, logger: Logger) throws -> (StateStore, DataDirectoryLock, StoreErrorPolicy) {
        // 1. The policy must be valid before anything else happens.
        let loaded: LoadedPolicy
        do throws(PolicyValidationError) {
            loaded = try PolicyParser.load(contentsOfFile: configuration.policyPath)
        } catch {
            for problem in error.problems {
                logger.error("\(problem.description)")
            }
            throw StartupError(description: "the policy file \(configuration.policyPath) is invalid (\(error.problems.count) problems)")
        }
        warnIfWorldWritable(configuration.policyPath, logger: logger)
        warnIfWorldWritable(configuration.dataDirectory, logger: logger)

        // 2. Never displace a live daemon: first its sockets (so a refused start touches no data
        // directory), then its data directory, which another daemon may serve on other sockets.
        try SocketPath.prepare(configuration.dataSocketPath)
        try SocketPath.prepare(configuration.adminSocketPath)
        let lock = try DataDirectoryLock(directory: configuration.dataDirectory)

        // 3. Open the store and put the policy in force.
        let store = try StateStore(
            directory: configuration.dataDirectory,
            options: StoreOptions(
                mapSizeBytes: configuration.mapSizeBytes, commitWithoutSync: !configuration.syncCommits, writeMap: configuration.writeMap,
                journal: configuration.journal, ownsDataDirectory: true, mapHeadroomPercent: configuration.mapHeadroomPercent
            )
        )
        if let rollback = store.snapshotRollback {
            logger.warning("the OS restarted since the last LMDB sync: reopened the snapshot that sync recorded, then replayed the journal", metadata: [
                "lmdb_transaction_found": "\(rollback.newestTransactionIdFound)", "lmdb_transaction_reopened": "\(rollback.restoredTransactionId)",
            ])
        }
        if let recovery = store.recovery {
            let metadata: Logger.Metadata = [
                "lmdb_transaction_before": "\(recovery.lastTransactionIdBefore)", "lmdb_transaction_after": "\(recovery.lastTransactionIdAfter)",
                "entries_read": "\(recovery.entriesRead)", "entries_replayed": "\(recovery.entriesReplayed)",
                "entries_after_hole": "\(recovery.entriesAfterHole)",
            ]
            if recovery.entriesAfterHole > 0 {
                logger.warning("journal replayed up to a missing entry; the entries after it were never acknowledged as durable", metadata: metadata)
            } else if recovery.entriesReplayed > 0 {
                logger.info("journal replayed", metadata: metadata)
            } else {
                logger.debug("journal checked: LMDB lacked nothing", metadata: metadata)
            }
        }
        let summary = try store.loadPolicy(loaded.policy, version: loaded.version, now: WallClock.now())
        try store.sync()
        logger.info("policy loaded", metadata: [
            "file": "\(configuration.policyPath)", "version": "\(summary.version)", "plans": "\(summary.plansCount)",
            "tenants": "\(summary.tenantsCount)", "keys": "\(summary.keysCount)", "records_changed": "\(summary.recordsChangedCount)",
        ])
        return (store, lock, loaded.policy.defaults.onStoreError)
    }

    /// Anyone able to write these could grant themselves credit or budget.
    static func warnIfWorldWritable(_ path: String, logger: Logger) {
        if let mode = FileMode.of(path), mode & 0o002 != 0 {
            logger.warning("world-writable path: any local user can change it", metadata: ["path": "\(path)", "mode": "\(String(mode, radix: 8))"])
        }
    }
}
