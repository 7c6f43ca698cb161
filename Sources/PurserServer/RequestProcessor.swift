import Dispatch
import Logging
import PurserLedger
import NIOConcurrencyHelpers
import NIOCore
import PurserEngine
import PurserPolicy
import PurserStore
import PurserWire

/// Which socket a connection came in on; admin messages are accepted on the admin socket only.
public enum SocketRole: String, Sendable {
    case data
    case admin
}

/// Turns a request into its reply: store operations go to the writer, `ping` and `status` are
/// answered from reads. Knows nothing about connections or bytes.
final class RequestProcessor: Sendable {
    let writer: StoreWriter
    let store: StateStore
    let reloader: PolicyReloader
    let connections: ConnectionRegistry
    let ledger: LedgerService
    /// `on_store_error` of the policy in force, kept in memory because it matters exactly when
    /// the store cannot be read.
    let storeErrorPolicy: NIOLockedValueBox<StoreErrorPolicy>
    let startedAtNanoseconds = WallClock.monotonicNanoseconds()
    private let usageQueue = DispatchQueue(label: "purser-usage-queries")

    init(
        writer: StoreWriter, store: StateStore, reloader: PolicyReloader, connections: ConnectionRegistry, ledger: LedgerService,
        storeErrorPolicy: NIOLockedValueBox<StoreErrorPolicy>
    ) {
        self.storeErrorPolicy = storeErrorPolicy
        self.writer = writer
        self.store = store
        self.reloader = reloader
        self.connections = connections
        self.ledger = ledger
    }

    /// Where a reply goes: called exactly once, on any thread (the syncer answers settles).
    typealias ReplyHandler = @Sendable (Result<WireMessage, Error>) -> Void

    /// Computes the reply to `request` (without its correlation id) and hands it to `reply`.
    ///
    /// A callback rather than a future: a request in the daemon's hot path used to make two or
    /// three promises and their callback lists, several allocations per request for a value that
    /// has exactly one consumer.
    func process(_ request: WireRequest, reply: @escaping ReplyHandler) {
        switch request {
        case .ping:
            reply(Result { try pong() })
        case .status:
            reply(Result { try status() })
        case .reload:
            reloader.reload(reason: "admin message") { result in
                switch result {
                case .success(let outcome):
                    var message = WireMessage(type: .reloadReply, correlationId: 0)
                    message.set("policy_version", outcome.summary.version)
                    message.set("plans", Int64(outcome.summary.plansCount))
                    message.set("tenants", Int64(outcome.summary.tenantsCount))
                    message.set("keys", Int64(outcome.summary.keysCount))
                    message.set("duration_us", outcome.durationMicroseconds)
                    reply(.success(message))
                case .failure(let error):
                    reply(.failure(error))
                }
            }
        case .authorize(let fields):
            let estimate: TokenOrMicrosAmount = fields.estimateMicros.map { .micros($0) }
                ?? .tokens(inputTokens: fields.inputTokens!, outputTokens: fields.maxOutputTokens!)
            let operation = StoreOperation.authorize(
                secret: fields.key,
                request: AuthorizeRequest(requestId: fields.requestId, model: fields.model, tags: fields.tags, estimate: estimate)
            )
            let storeErrorPolicy = self.storeErrorPolicy
            submit(operation) { result in
                // A store that cannot decide, or refuses new reservations because its map is nearly
                // full, still owes the proxy a decision: the policy's.
                if case .failure(let error as WireError) = result, error.code == .unavailable {
                    reply(.success(ReplyBuilder.unavailableDecision(
                        policy: storeErrorPolicy.withLockedValue { $0 }, reason: error.message
                    )))
                } else {
                    reply(result)
                }
            }
        case .settle(let fields):
            guard let status = SettleStatus(rawValue: fields.status) else {
                reply(.failure(WireError(.badRequest, "status must be ok, error or cancelled")))
                return
            }
            let cost: TokenOrMicrosAmount = fields.costMicros.map { .micros($0) }
                ?? .tokens(inputTokens: fields.inputTokens!, outputTokens: fields.outputTokens!)
            submit(.settle(SettleRequest(reservationId: fields.reservation, cost: cost, status: status, retries: fields.retries)), reply: reply)
        case .release(let reservation):
            submit(.release(reservationId: reservation), reply: reply)
        case .usage(let fields):
            // Opening SQLite and reading rollups is blocking work: never on an event loop.
            usageQueue.async { [ledger] in
                reply(Result { try UsageAnswer.reply(fields, ledgerPath: ledger.ledgerPath) })
            }
        case .credit(let fields):
            submit(.credit(tenantId: fields.tenant, micros: fields.micros, memo: fields.memo, requestId: fields.requestId), reply: reply)
        }
    }

    private func submit(_ operation: StoreOperation, reply: @escaping ReplyHandler) {
        writer.submit(operation) { result in
            switch result {
            case .success(.authorized(.deny(let denial))) where denial.reason == .unavailable:
                // The store refused a new reservation (`StoreOptions.mapHeadroomPercent`): answered
                // as any store that cannot decide, so that `on_store_error` applies.
                reply(.failure(WireError(.unavailable, denial.detail ?? "the store refuses new reservations")))
            case .success(let outcome):
                reply(Result { try ReplyBuilder.reply(to: outcome) })
            case .failure(.shuttingDown):
                reply(.failure(WireError(.shuttingDown, "the server is shutting down; this request was not applied")))
            case .failure(let error):
                reply(.failure(WireError(.unavailable, "the store could not answer: \(error)")))
            }
        }
    }

    private func pong() throws -> WireMessage {
        var reply = WireMessage(type: .pong, correlationId: 0)
        reply.set("server_version", ServerConfiguration.serverVersion)
        reply.set("policy_version", try store.policyMetadata()?.version ?? "")
        return reply
    }

    private func status() throws -> WireMessage {
        let metadata = try store.policyMetadata()
        let statistics = writer.currentStatistics
        var reply = WireMessage(type: .statusReply, correlationId: 0)
        reply.set("server_version", ServerConfiguration.serverVersion)
        reply.set("policy_version", metadata?.version ?? "")
        reply.set("policy_loaded_at_ms", metadata.map { $0.loadedAt.nanosecondsSinceEpoch / 1_000_000 } ?? 0)
        reply.set("plans", metadata?.plansCount ?? 0)
        reply.set("tenants", metadata?.tenantsCount ?? 0)
        reply.set("keys", metadata?.keysCount ?? 0)
        reply.set("uptime_ms", (WallClock.monotonicNanoseconds() - startedAtNanoseconds) / 1_000_000)
        reply.set("connections", Int64(connections.count))
        reply.set("outbox_depth", Int64(try store.outboxDepth()))
        reply.set("expired_total", Int64(try store.expiredTotalCount()))
        reply.set("batches_committed", statistics.batchesCommitted)
        reply.set("operations_committed", statistics.operationsCommitted)
        reply.set("syncs", statistics.syncs)
        reply.set("checkpoints", statistics.checkpoints)
        reply.set("batch_size_histogram", statistics.batchSizeHistogram)
        reply.set("ledger_high_water", Int64(ledger.currentLag.highWater))
        let oldest = try store.outboxEvents(after: ledger.currentLag.highWater, countMax: 1).first
        reply.set("ledger_lag_ms", oldest.map { max(0, (WallClock.now().nanosecondsSinceEpoch - $0.time.nanosecondsSinceEpoch) / 1_000_000) } ?? 0)
        return reply
    }
}

/// Store outcomes as reply messages.
enum ReplyBuilder {
    static func reply(to outcome: StoreOutcome) throws -> WireMessage {
        switch outcome {
        case .authorized(let decision):
            return authorizeReply(decision)
        case .settled(.settled(let reservationId, let settlement, let replayed)):
            var reply = WireMessage(type: .settleReply, correlationId: 0)
            reply.set("reservation", reservationId)
            reply.set("cost_micros", settlement.costMicros)
            reply.set("input_tokens", settlement.inputTokens)
            reply.set("output_tokens", settlement.outputTokens)
            reply.set("status", settlement.status.rawValue)
            reply.set("retries", settlement.retries)
            reply.set("overdraft_micros", settlement.overdraftMicros)
            reply.set("late", settlement.late)
            reply.set("replayed", replayed)
            reply.set("settled_at_ms", settlement.settledAt.nanosecondsSinceEpoch / 1_000_000)
            return reply
        case .settled(.unknownReservation), .released(.unknownReservation):
            throw WireError(.unknownReservation, "no such reservation (never issued, or forgotten after its retention)")
        case .settled(.badRequest(let problem)), .credited(.badRequest(let problem)):
            throw WireError(.badRequest, problem.detail)
        case .released(.released(let reservationId, let state, let replayed)):
            var reply = WireMessage(type: .releaseReply, correlationId: 0)
            reply.set("reservation", reservationId)
            reply.set("state", stateName(state))
            reply.set("replayed", replayed)
            return reply
        case .credited(.credited(let tenantId, let balance, let credited, let replayed)):
            var reply = WireMessage(type: .creditReply, correlationId: 0)
            reply.set("tenant", tenantId)
            reply.set("balance_micros", balance)
            reply.set("credited_micros", credited)
            reply.set("replayed", replayed)
            return reply
        case .credited(.unknownTenant):
            throw WireError(.unknownTenant, "no such tenant in the policy")
        }
    }

    /// The authorize reply when the store failed: a 503 deny, or with `fail_open` an allow that
    /// reserves nothing.
    static func unavailableDecision(policy: StoreErrorPolicy, reason: String) -> WireMessage {
        var reply = WireMessage(type: .authorizeReply, correlationId: 0)
        switch policy {
        case .failClosed:
            reply.set("allowed", false)
            reply.set("reason", DenyReason.unavailable.rawValue)
            reply.set("status", Int64(DenyReason.unavailable.httpStatus))
            reply.set("detail", reason)
        case .failOpen:
            reply.set("allowed", true)
            reply.set("detail", "on_store_error is fail_open: allowed without a reservation, counted against no cap (\(reason))")
        }
        return reply
    }

    static func stateName(_ state: ReservationState) -> String {
        switch state {
        case .open: return "open"
        case .settled: return "settled"
        case .released: return "released"
        case .expired: return "expired"
        }
    }

    static func authorizeReply(_ decision: Decision) -> WireMessage {
        var reply = WireMessage(type: .authorizeReply, correlationId: 0)
        switch decision {
        case .allow(let allowance):
            reply.set("allowed", true)
            reply.set("reservation", allowance.reservationId)
            reply.set("tenant", allowance.tenantId)
            reply.set("key_id", allowance.keyId)
            reply.set("tag", allowance.tags)
            reply.set("estimate_micros", allowance.estimateMicros)
            reply.set("expires_at_ms", allowance.expiresAt.nanosecondsSinceEpoch / 1_000_000)
            if let lowest = allowance.lowestRemaining {
                reply.set("remaining_micros", lowest.remainingMicros)
                reply.set("scope", lowest.scope)
                reply.set("period", lowest.period?.rawValue)
                reply.set("cap_micros", lowest.capMicros)
            }
            reply.set("requests_remaining", allowance.requestsRemaining)
            reply.set("tokens_remaining", allowance.tokensRemaining)
            reply.set("replayed", allowance.replayed)
        case .deny(let denial):
            reply.set("allowed", false)
            reply.set("reason", denial.reason.rawValue)
            reply.set("status", Int64(denial.httpStatus))
            reply.set("remaining_micros", denial.remainingMicros)
            reply.set("scope", denial.scope)
            reply.set("period", denial.period?.rawValue)
            reply.set("cap_micros", denial.capMicros)
            reply.set("retry_after_ms", denial.retryAfterMilliseconds)
            reply.set("detail", denial.detail)
        }
        return reply
    }
}

/// The admin `usage` query: the same report as `purser usage --format json`.
enum UsageAnswer {
    /// Each `json` field carries at most this many bytes; clients concatenate them in order.
    static let chunkBytesMax = 60_000
    /// The largest report sent; a bigger one is refused so that no query can make a huge frame.
    static let reportBytesMax = 1_000_000

    static func reply(_ fields: UsageFields, ledgerPath: String) throws -> WireMessage {
        var dimensions: [UsageDimension] = []
        for name in fields.by.isEmpty ? ["model", "day", "tag"] : fields.by {
            guard let dimension = UsageDimension(rawValue: name) else {
                throw WireError(.badRequest, "by must be tenant, key, model, day or tag, not \(name)")
            }
            dimensions.append(dimension)
        }
        let report: UsageReport
        do {
            let ledger = try LedgerDatabase(path: ledgerPath, readOnly: true)
            defer { ledger.close() }
            report = try UsageReport.build(
                ledger, filter: UsageFilter(tenant: fields.tenant, key: fields.key, tag: fields.tag, fromDay: fields.from, toDay: fields.to),
                breakdowns: dimensions
            )
        } catch let error as LedgerError {
            throw WireError(.badRequest, error.description)
        } catch {
            throw WireError(.unavailable, "the ledger cannot be read: \(error)")
        }
        let json = report.json
        guard json.utf8.count <= reportBytesMax else {
            throw WireError(.badRequest, "the report exceeds \(reportBytesMax) bytes; narrow the date range, the filter or the breakdowns")
        }
        var reply = WireMessage(type: .usageReply, correlationId: 0)
        var chunks: [String] = []
        var current = ""
        for character in json {
            if current.utf8.count + character.utf8.count > chunkBytesMax {
                chunks.append(current)
                current = ""
            }
            current.append(character)
        }
        chunks.append(current)
        reply.set("json", chunks)
        return reply
    }
}
