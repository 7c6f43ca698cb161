import Dispatch
import Logging
import PurserPolicy
import PurserStore
import PurserWire

/// Re-reads the policy file and swaps it in atomically, for SIGHUP and the admin `reload`.
///
/// Parsing runs on its own serial queue, never on an event loop or the writer (a 100,000-key file
/// takes seconds to parse), and reloads never overlap. An invalid file is rejected with every
/// problem and the running policy stays in force.
final class PolicyReloader: Sendable {
    struct Outcome: Sendable {
        var summary: PolicyLoadSummary
        var durationMicroseconds: Int64
    }

    let path: String
    let writer: StoreWriter
    let logger: Logger
    /// Called with each policy's defaults once it is in force.
    let onLoaded: @Sendable (PolicyDefaults) -> Void
    private let queue = DispatchQueue(label: "purser-policy-reload")

    init(path: String, writer: StoreWriter, logger: Logger, onLoaded: @escaping @Sendable (PolicyDefaults) -> Void) {
        self.path = path
        self.writer = writer
        self.logger = logger
        self.onLoaded = onLoaded
    }

    func reload(reason: String, completion: @escaping @Sendable (Result<Outcome, WireError>) -> Void) {
        queue.async { [self] in
            let started = WallClock.monotonicNanoseconds()
            let loaded: LoadedPolicy
            do throws(PolicyValidationError) {
                loaded = try PolicyParser.load(contentsOfFile: path)
            } catch {
                logger.error("policy reload rejected; the running policy stays in force", metadata: [
                    "reason": "\(reason)", "file": "\(path)", "problems": "\(error.problems.count)",
                ])
                for problem in error.problems {
                    logger.error("\(problem.description)")
                }
                completion(.failure(WireError(.policyInvalid, error.problems.map(\.description).joined(separator: "\n"))))
                return
            }
            // The completion keeps only the defaults: the parsed policy (hundreds of MB for 100,000
            // keys) must be freed before the memory trim below can hand it back.
            let defaults = loaded.policy.defaults
            let parseMicroseconds = (WallClock.monotonicNanoseconds() - started) / 1_000
            // Encoded, sorted and compared with the stored policy here, on the reload queue: the
            // writer's loop then only writes what changed. A comparison that fails is left to the
            // loop, which makes it again and reports any error.
            let prepared = PreparedPolicy(loaded.policy, version: loaded.version)
            let difference = try? writer.policyDifference(prepared)
            writer.loadPolicy(prepared, difference: difference) { [logger, onLoaded, queue, writer] result in
                defer {
                    // By then the writer has dropped its copy of the policy too.
                    queue.asyncAfter(deadline: .now() + .milliseconds(200)) {
                        MemoryTrim.releaseFreedMemory()
                        // The load compared every policy record with the new policy, so it mapped
                        // the whole policy into RSS (~20 MiB for 100,000 keys); requests need only
                        // the few pages they touch.
                        do {
                            try writer.releaseMappedPages()
                        } catch {
                            logger.warning("could not release the store's mapped pages", metadata: ["error": "\(error)"])
                        }
                    }
                }
                switch result {
                case .success(let summary):
                    onLoaded(defaults)
                    let duration = (WallClock.monotonicNanoseconds() - started) / 1_000
                    logger.info("policy loaded", metadata: [
                        "reason": "\(reason)", "version": "\(summary.version)", "plans": "\(summary.plansCount)",
                        "tenants": "\(summary.tenantsCount)", "keys": "\(summary.keysCount)", "records_changed": "\(summary.recordsChangedCount)", "duration_us": "\(duration)",
                        "parse_us": "\(parseMicroseconds)",
                    ])
                    completion(.success(Outcome(summary: summary, durationMicroseconds: duration)))
                case .failure(let error):
                    logger.error("policy reload could not be stored", metadata: ["error": "\(error)"])
                    completion(.failure(WireError(.unavailable, "the policy could not be stored: \(error)")))
                }
            }
        }
    }
}
