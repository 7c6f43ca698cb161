import Foundation
import PurserEngine
import PurserPolicy
import PurserStore

/// A real `StateStore` on real LMDB in a fresh temporary directory, removed on deinit.
final class StoreFixture {
    let directory: String
    let store: StateStore
    var now: Timestamp
    private var reservationCounter = 0

    /// 2026-11-22T12:00:00Z.
    static let start = Timestamp(secondsSinceEpoch: 1_795_348_800)

    init(policy: Policy = StoreFixture.policy, now: Timestamp = StoreFixture.start) throws {
        directory = NSTemporaryDirectory() + "purser-store-" + UUID().uuidString
        store = try StateStore(directory: directory, options: StoreOptions(mapSizeBytes: 64 << 20))
        self.now = now
        try store.loadPolicy(policy, version: "test-policy-1", now: now)
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func advance(seconds: Int64) {
        now = now.adding(seconds: seconds)
    }

    func nextRequestId() -> String {
        reservationCounter += 1
        return "req-\(reservationCounter)"
    }

    func authorize(
        _ secret: String, model: String = "gpt-5.4", tags: [String] = [], micros: Int64 = 1_000, requestId: String? = nil
    ) throws -> Decision {
        try store.authorize(
            secret: secret,
            request: AuthorizeRequest(requestId: requestId ?? nextRequestId(), model: model, tags: tags, estimate: .micros(micros)),
            now: now
        )
    }

    func authorize(_ secret: String, model: String = "gpt-5.4", estimate: TokenOrMicrosAmount, tags: [String] = []) throws -> Decision {
        try store.authorize(secret: secret, request: AuthorizeRequest(requestId: nextRequestId(), model: model, tags: tags, estimate: estimate), now: now)
    }

    /// Authorizes and returns the allowance, failing the test through a thrown error on deny.
    func allow(_ secret: String, model: String = "gpt-5.4", tags: [String] = [], micros: Int64 = 1_000) throws -> Allowance {
        let decision = try authorize(secret, model: model, tags: tags, micros: micros)
        guard case .allow(let allowance) = decision else { throw UnexpectedDecision(decision: decision) }
        return allowance
    }

    func settle(_ reservationId: String, micros: Int64, status: SettleStatus = .ok) throws -> SettleAnswer {
        try store.settle(SettleRequest(reservationId: reservationId, cost: .micros(micros), status: status), now: now)
    }

    func state(_ scope: Scope) throws -> ScopeState {
        try store.state(of: scope) ?? ScopeState()
    }

    func events() throws -> [LedgerEvent] {
        try store.outboxEvents(after: 0, countMax: 1_000_000)
    }

    struct UnexpectedDecision: Error { var decision: Decision }

    // MARK: - The policy used by most tests

    static let prices: [String: ModelPrice] = [
        "gpt-5.4": ModelPrice(inputMicrosPerMillionTokens: 1_250_000, outputMicrosPerMillionTokens: 10_000_000),
        "gpt-5.4-mini": ModelPrice(inputMicrosPerMillionTokens: 250_000, outputMicrosPerMillionTokens: 2_000_000),
        "claude-sonnet-4-6": ModelPrice(inputMicrosPerMillionTokens: 3_000_000, outputMicrosPerMillionTokens: 15_000_000),
    ]

    static func pattern(_ text: String) -> ModelPattern { try! ModelPattern(text) }

    static let secrets = (
        acmeProd: "pk_test_acme_prod",
        acmeDisabled: "pk_test_acme_disabled",
        acmeExpired: "pk_test_acme_expired",
        rotatedNew: "pk_test_rotated_new",
        rotatedOld: "pk_test_rotated_old",
        globex: "pk_test_globex",
        initech: "pk_test_initech",
        umbrella: "pk_test_umbrella"
    )

    static var policy: Policy {
        Policy(
            defaults: PolicyDefaults(reservationTTLSeconds: 600, reservationRetentionSeconds: 3_600),
            prices: prices,
            plans: [
                "free": Plan(
                    id: "free", models: [pattern("gpt-5.4-mini")],
                    rateLimits: RateLimits(requestsPerMinute: 20, tokensPerMinute: 40_000),
                    budgets: [Budget(period: .month, capMicros: 5_000_000)]
                ),
                "pro": Plan(id: "pro", models: [pattern("*")], rateLimits: RateLimits(requestsPerMinute: 600)),
            ],
            tenants: [
                "acme": Tenant(
                    id: "acme", name: "Acme Corp", plan: "pro",
                    budgets: [Budget(period: .month, capMicros: 500_000_000), Budget(period: .day, capMicros: 40_000_000)],
                    tags: ["summarize": TagPolicy(budgets: [Budget(period: .month, capMicros: 50_000_000)])]
                ),
                "globex": Tenant(id: "globex", name: "Globex", plan: "free"),
                "initech": Tenant(id: "initech", name: "Initech", plan: "pro", prepaid: true),
                "umbrella": Tenant(id: "umbrella", name: "Umbrella", plan: "pro", rateLimits: RateLimits(inflightMax: 2)),
            ],
            keys: [
                KeyPolicy(
                    id: "key_acme_prod", tenant: "acme", sha256: KeyHash(secret: secrets.acmeProd), defaultTag: "acme",
                    rateLimits: RateLimits(requestsPerMinute: 300, tokensPerMinute: 200_000, inflightMax: 16),
                    budgets: [Budget(period: .total, capMicros: 100_000_000)], models: [pattern("gpt-5.4*")]
                ),
                KeyPolicy(id: "key_acme_disabled", tenant: "acme", sha256: KeyHash(secret: secrets.acmeDisabled), disabled: true),
                KeyPolicy(
                    id: "key_acme_expired", tenant: "acme", sha256: KeyHash(secret: secrets.acmeExpired),
                    expiresAt: Timestamp(secondsSinceEpoch: 1_767_225_600)  // 2026-01-01
                ),
                KeyPolicy(
                    id: "key_rotated", tenant: "acme", sha256: KeyHash(secret: secrets.rotatedNew),
                    previousSHA256: KeyHash(secret: secrets.rotatedOld),
                    previousValidUntil: start.adding(seconds: 3_600)
                ),
                KeyPolicy(id: "key_globex", tenant: "globex", sha256: KeyHash(secret: secrets.globex)),
                KeyPolicy(id: "key_initech", tenant: "initech", sha256: KeyHash(secret: secrets.initech)),
                KeyPolicy(id: "key_umbrella", tenant: "umbrella", sha256: KeyHash(secret: secrets.umbrella)),
            ],
            tags: ["batch-eval": TagPolicy(budgets: [Budget(period: .month, capMicros: 20_000_000)])]
        )
    }
}
