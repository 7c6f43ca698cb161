import Logging
import ServiceLifecycle

/// Asks the writer to expire overdue reservations (and forget old finished ones) on a fixed tick.
/// The sweep runs inside the writer, between batches, so it never races a decision.
final class ExpirySweeperService: Service {
    let writer: StoreWriter
    let intervalMilliseconds: Int64
    let logger: Logger

    init(writer: StoreWriter, intervalMilliseconds: Int64, logger: Logger) {
        self.writer = writer
        self.intervalMilliseconds = intervalMilliseconds
        self.logger = logger
    }

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(nanoseconds: UInt64(intervalMilliseconds) * 1_000_000)
            guard !Task.isShuttingDownGracefully else { break }
            writer.sweep { [logger] result in
                switch result {
                case .success(let summary) where summary.expiredCount > 0 || summary.purgedCount > 0:
                    logger.info("swept reservations", metadata: [
                        "expired": "\(summary.expiredCount)", "purged": "\(summary.purgedCount)", "more": "\(summary.more)",
                    ])
                case .success, .failure(.shuttingDown):
                    break
                case .failure(let error):
                    logger.error("sweep failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
