import Logging
import PurserStore
import ServiceLifecycle

/// Runs the group-commit writer for the daemon's life. Shut down last: by then the sockets are
/// closed and every in-flight request answered, so stopping drains the queue, fsyncs, and closes
/// LMDB cleanly.
final class StoreWriterService: Service {
    let writer: StoreWriter
    let store: StateStore
    let logger: Logger

    init(writer: StoreWriter, store: StateStore, logger: Logger) {
        self.writer = writer
        self.store = store
        self.logger = logger
    }

    func run() async throws {
        writer.start()
        try? await gracefulShutdown()
        await writer.stop()
        try? store.sync()
        store.close()
        logger.info("store closed")
    }
}
