import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the policy on SIGHUP. An invalid file is logged and the running policy stays.
final class ReloadOnHangupService: Service {
    let reloader: PolicyReloader

    init(reloader: PolicyReloader) {
        self.reloader = reloader
    }

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.reload(reason: "SIGHUP") { _ in }
        }
    }
}
