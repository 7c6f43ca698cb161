import PurserEngine
import PurserPolicy
import PurserStore
import Testing

/// Every deny reason and every scope, against a real store on real LMDB.
@Suite struct DecisionTableTests {
    typealias S = StoreFixture

    struct DenyCase: CustomTestStringConvertible, Sendable {
        var name: String
        var reason: DenyReason
        var status: Int
        var scope: String?
        /// Brings the store to the point where `attempt` is denied.
        var setUp: @Sendable (StoreFixture) throws -> Void = { _ in }
        var attempt: @Sendable (StoreFixture) throws -> Decision
        var testDescription: String { name }
    }

    static let denyCases: [DenyCase] = [
        DenyCase(name: "unknown key", reason: .unknownKey, status: 401, attempt: { try $0.authorize("pk_nobody") }),
        DenyCase(name: "disabled key", reason: .keyDisabled, status: 401, attempt: { try $0.authorize(S.secrets.acmeDisabled) }),
        DenyCase(name: "expired key", reason: .keyExpired, status: 401, attempt: { try $0.authorize(S.secrets.acmeExpired) }),
        DenyCase(
            name: "rotated-out secret after its window", reason: .keyExpired, status: 401,
            setUp: { $0.advance(seconds: 3_600) }, attempt: { try $0.authorize(S.secrets.rotatedOld) }
        ),
        DenyCase(
            name: "model outside the plan", reason: .modelNotAllowed, status: 403,
            attempt: { try $0.authorize(S.secrets.globex, model: "gpt-5.4") }
        ),
        DenyCase(
            name: "model outside the key's narrower list", reason: .modelNotAllowed, status: 403,
            attempt: { try $0.authorize(S.secrets.acmeProd, model: "claude-sonnet-4-6") }
        ),
        DenyCase(
            name: "rpm of the plan", reason: .rateLimited, status: 429, scope: "tenant:globex",
            setUp: { fixture in for _ in 0..<20 { _ = try fixture.allow(S.secrets.globex, model: "gpt-5.4-mini", micros: 1) } },
            attempt: { try $0.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 1) }
        ),
        DenyCase(
            name: "tpm of the key", reason: .rateLimited, status: 429, scope: "key:key_acme_prod",
            setUp: { fixture in
                _ = try fixture.authorize(S.secrets.acmeProd, estimate: .tokens(inputTokens: 150_000, outputTokens: 40_000))
            },
            attempt: { try $0.authorize(S.secrets.acmeProd, estimate: .tokens(inputTokens: 10_000, outputTokens: 10_001)) }
        ),
        DenyCase(
            name: "max_inflight of the tenant", reason: .concurrencyLimited, status: 429, scope: "tenant:umbrella",
            setUp: { fixture in for _ in 0..<2 { _ = try fixture.allow(S.secrets.umbrella) } },
            attempt: { try $0.authorize(S.secrets.umbrella) }
        ),
        DenyCase(
            name: "key total budget", reason: .budgetExceeded, status: 402, scope: "key:key_acme_prod",
            setUp: spendNinetyFiveUSDOverThreeDays,
            attempt: { try $0.authorize(S.secrets.acmeProd, micros: 6_000_000) }
        ),
        DenyCase(
            name: "tenant day budget", reason: .budgetExceeded, status: 402, scope: "tenant:acme",
            attempt: { try $0.authorize(S.secrets.rotatedNew, micros: 40_000_001) }
        ),
        DenyCase(
            name: "plan month budget applied to the tenant", reason: .budgetExceeded, status: 402, scope: "tenant:globex",
            attempt: { try $0.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 5_000_001) }
        ),
        DenyCase(
            name: "tenant tag budget", reason: .budgetExceeded, status: 402, scope: "tenant_tag:acme/summarize",
            setUp: { fixture in
                for _ in 0..<2 {
                    let allowance = try fixture.allow(S.secrets.rotatedNew, tags: ["summarize"], micros: 25_000_000)
                    _ = try fixture.settle(allowance.reservationId, micros: 25_000_000)
                    fixture.advance(seconds: 86_400)  // stay inside the tenant's day budget
                }
            },
            attempt: { try $0.authorize(S.secrets.rotatedNew, tags: ["summarize"], micros: 1) }
        ),
        DenyCase(
            name: "account tag budget across tenants", reason: .budgetExceeded, status: 402, scope: "tag:batch-eval",
            setUp: { fixture in _ = try fixture.allow(S.secrets.umbrella, tags: ["batch-eval"], micros: 19_000_000) },
            attempt: { try $0.authorize(S.secrets.initech, tags: ["batch-eval"], micros: 1_000_001) }
        ),
        DenyCase(
            name: "prepaid tenant with no balance", reason: .insufficientBalance, status: 402, scope: "balance:initech",
            attempt: { try $0.authorize(S.secrets.initech, micros: 1) }
        ),
        DenyCase(name: "bad model name", reason: .badRequest, status: 400, attempt: { try $0.authorize(S.secrets.acmeProd, model: "gpt 5") }),
        DenyCase(
            name: "negative estimate", reason: .badRequest, status: 400,
            attempt: { try $0.authorize(S.secrets.acmeProd, micros: -5) }
        ),
        DenyCase(
            name: "too many tags", reason: .badRequest, status: 400,
            attempt: { try $0.authorize(S.secrets.acmeProd, tags: (0..<17).map { "t\($0)" }) }
        ),
        DenyCase(
            name: "tokens for a model without a price", reason: .badRequest, status: 400,
            attempt: { try $0.authorize(S.secrets.umbrella, model: "llama-4", estimate: .tokens(inputTokens: 10, outputTokens: 10)) }
        ),
    ]

    @Test(arguments: denyCases)
    func deniesWithStableReasonAndReservesNothing(_ testCase: DenyCase) throws {
        let fixture = try StoreFixture()
        try testCase.setUp(fixture)
        let statesBefore = try fixture.store.allStates()
        let eventsBefore = try fixture.events()
        let decision = try testCase.attempt(fixture)
        guard case .deny(let denial) = decision else {
            Issue.record("expected \(testCase.reason), got \(decision)")
            return
        }
        #expect(denial.reason == testCase.reason)
        #expect(denial.httpStatus == testCase.status)
        if let scope = testCase.scope {
            #expect(denial.scope == scope)
        }
        // A deny reserves nothing and consumes no rate-limit token.
        #expect(try fixture.store.allStates() == statesBefore)
        #expect(try fixture.events() == eventsBefore)
    }

    /// Spends 95 of the key's 100 USD total, staying under the tenant's 40 USD day cap.
    static func spendNinetyFiveUSDOverThreeDays(_ fixture: StoreFixture) throws {
        for micros: Int64 in [35_000_000, 35_000_000, 25_000_000] {
            let allowance = try fixture.allow(S.secrets.acmeProd, micros: micros)
            _ = try fixture.settle(allowance.reservationId, micros: micros)
            fixture.advance(seconds: 86_400)
        }
    }

    @Test func budgetDenialCarriesScopeCapAndRemaining() throws {
        let fixture = try StoreFixture()
        try Self.spendNinetyFiveUSDOverThreeDays(fixture)
        // The key's total has 5 USD left and is the tightest cap, so it is the one reported.
        let decision = try fixture.authorize(S.secrets.acmeProd, micros: 5_000_001)
        #expect(decision == .deny(Denial(reason: .budgetExceeded, scope: "key:key_acme_prod", period: .total, capMicros: 100_000_000, remainingMicros: 5_000_000)))
        #expect(try fixture.authorize(S.secrets.acmeProd, micros: 5_000_000).isAllowed)
    }

    @Test func rateLimitedCarriesExactRetryAfter() throws {
        let fixture = try StoreFixture()
        for _ in 0..<20 {
            _ = try fixture.allow(S.secrets.globex, model: "gpt-5.4-mini", micros: 1)
        }
        // 20 rpm: one request every 3 s; the burst of 20 is spent, the next fits 3 s after the first.
        fixture.advance(seconds: 1)
        let denied = try fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 1)
        #expect(denied == .deny(Denial(reason: .rateLimited, detail: "rpm", scope: "tenant:globex", retryAfterMilliseconds: 2_000)))
        fixture.now = fixture.now.adding(nanoseconds: 1_999_999_999)
        #expect(try !fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 1).isAllowed)
        fixture.now = fixture.now.adding(nanoseconds: 1)
        #expect(try fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 1).isAllowed)
    }

    @Test func allowReportsTenantKeyTagsAndLowestRemaining() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, tags: ["summarize", "batch-eval"], micros: 2_000_000)
        #expect(allowance.tenantId == "acme")
        #expect(allowance.keyId == "key_acme_prod")
        #expect(allowance.tags == ["summarize", "batch-eval", "acme"])
        #expect(allowance.reservationId.hasPrefix("rsv_"))
        // batch-eval (20 USD a month) is the tightest of the six caps once 2 USD is reserved.
        #expect(allowance.lowestRemaining == RemainingBudget(scope: "tag:batch-eval", period: .month, capMicros: 20_000_000, remainingMicros: 18_000_000))
        #expect(allowance.requestsRemaining == 299)  // key 300 rpm is tighter than the plan's 600
        #expect(allowance.tokensRemaining == 200_000)  // an estimate in micros consumes no tokens
        // All six scopes hold the reservation.
        for scope in [Scope.key("key_acme_prod"), .tenant("acme"), .tenantTag(tenant: "acme", tag: "summarize"), .tag("batch-eval")] {
            #expect(try fixture.state(scope).month.reservedMicros == 2_000_000, "\(scope)")
        }
    }

    @Test func tokenEstimatesArePricedFromTheCatalog() throws {
        let fixture = try StoreFixture()
        // 1,000 in at 1.25 USD/M + 500 out at 10 USD/M = 1,250 + 5,000 micros.
        let decision = try fixture.authorize(S.secrets.acmeProd, estimate: .tokens(inputTokens: 1_000, outputTokens: 500))
        guard case .allow(let allowance) = decision else { Issue.record("\(decision)"); return }
        #expect(allowance.estimateMicros == 6_250)
        #expect(allowance.tokensRemaining == 198_500)
    }

    @Test func rotatedSecretsResolveToTheSameKeyAndCounters() throws {
        let fixture = try StoreFixture()
        let old = try fixture.allow(S.secrets.rotatedOld, micros: 1_000)
        let new = try fixture.allow(S.secrets.rotatedNew, micros: 2_000)
        #expect(old.keyId == "key_rotated")
        #expect(new.keyId == "key_rotated")
        #expect(try fixture.state(.key("key_rotated")).total.reservedMicros == 3_000)
        fixture.advance(seconds: 3_600)
        #expect(try fixture.authorize(S.secrets.rotatedNew).isAllowed)
        #expect(try !fixture.authorize(S.secrets.rotatedOld).isAllowed)
    }

    @Test func creditThenPrepaidAuthorizeDrawsTheBalance() throws {
        let fixture = try StoreFixture()
        let credit = try fixture.store.credit(tenantId: "initech", micros: 5_000_000, memo: "invoice 42", requestId: "credit-1", now: fixture.now)
        #expect(credit == .credited(tenantId: "initech", balanceMicros: 5_000_000, creditedMicros: 5_000_000, replayed: false))
        // The same credit again is not applied twice.
        let again = try fixture.store.credit(tenantId: "initech", micros: 5_000_000, memo: "invoice 42", requestId: "credit-1", now: fixture.now)
        #expect(again == .credited(tenantId: "initech", balanceMicros: 5_000_000, creditedMicros: 5_000_000, replayed: true))
        let allowance = try fixture.allow(S.secrets.initech, micros: 3_000_000)
        #expect(allowance.lowestRemaining == RemainingBudget(scope: "balance:initech", period: nil, capMicros: 5_000_000, remainingMicros: 2_000_000))
        let denied = try fixture.authorize(S.secrets.initech, micros: 2_000_001)
        #expect(denied == .deny(Denial(reason: .insufficientBalance, scope: "balance:initech", capMicros: 5_000_000, remainingMicros: 2_000_000)))
        _ = try fixture.settle(allowance.reservationId, micros: 2_500_000)
        let state = try fixture.state(.tenant("initech"))
        #expect(state.balanceMicros == 2_500_000)
        #expect(state.balanceReservedMicros == 0)
        #expect(state.creditedMicros == 5_000_000)
        #expect(try fixture.events().filter { $0.kind == .credit }.map(\.creditMicros) == [5_000_000])
        #expect(try fixture.store.credit(tenantId: "nobody", micros: 1, memo: "", requestId: "c", now: fixture.now) == .unknownTenant)
    }
}
