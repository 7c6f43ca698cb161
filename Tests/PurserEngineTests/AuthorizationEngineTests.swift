import PurserEngine
import PurserPolicy
import Testing

/// The decision logic on plain values: no store, no clock, no I/O.
@Suite struct AuthorizationEngineTests {
    let now = Timestamp(secondsSinceEpoch: 1_795_348_800)
    let plan = Plan(id: "pro", models: [try! ModelPattern("gpt-*")], rateLimits: RateLimits(requestsPerMinute: 2))
    let tenant = Tenant(id: "acme", name: "Acme", plan: "pro", budgets: [Budget(period: .day, capMicros: 1_000)])
    let key = KeyPolicy(id: "k1", tenant: "acme", sha256: KeyHash(secret: "s"), defaultTag: "web")

    func prepare(_ micros: Int64, requestId: String = "r1") throws -> PreparedAuthorization {
        try AuthorizationEngine.prepare(
            request: AuthorizeRequest(requestId: requestId, model: "gpt-5.4", estimate: .micros(micros)),
            match: KeyMatch(key: key, viaPreviousSecret: false), tenant: tenant, plan: plan, accountTags: [:], price: nil,
            defaults: PolicyDefaults(), policyVersion: "v1", now: now
        ).get()
    }

    @Test func allowReservesInEveryScopeAndDenyChangesNothing() throws {
        let first = AuthorizationEngine.decide(try prepare(600), states: [:], reservationId: "rsv_1", now: now)
        guard case .allow(let allowance) = first.decision, let reservation = first.reservation else {
            Issue.record("\(first.decision)")
            return
        }
        #expect(allowance.tags == ["web"])
        #expect(allowance.lowestRemaining == RemainingBudget(scope: "tenant:acme", period: .day, capMicros: 1_000, remainingMicros: 400))
        #expect(reservation.scopes == [.key("k1"), .tenant("acme")])
        #expect(first.states[.tenant("acme")]?.day.reservedMicros == 600)
        #expect(first.states[.key("k1")]?.inflightCount == 1)

        let second = AuthorizationEngine.decide(try prepare(401, requestId: "r2"), states: first.states, reservationId: "rsv_2", now: now)
        #expect(second.decision == .deny(Denial(reason: .budgetExceeded, scope: "tenant:acme", period: .day, capMicros: 1_000, remainingMicros: 400)))
        #expect(second.reservation == nil)
        #expect(second.states == first.states)
    }

    @Test func settleChargesFreesAndRecordsOverdraft() throws {
        let allowed = AuthorizationEngine.decide(try prepare(600), states: [:], reservationId: "rsv_1", now: now)
        let transition = try SettlementEngine.settle(
            SettleRequest(reservationId: "rsv_1", cost: .micros(1_100)), reservation: allowed.reservation!, states: allowed.states,
            limits: ScopeLimits(budgets: [.tenant("acme"): tenant.budgets]), retentionSeconds: 60, now: now
        ).get()
        #expect(transition.states[.tenant("acme")]?.day == PeriodCounter(periodIndex: PeriodIndexes(at: now).day, spentMicros: 1_100, reservedMicros: 0))
        #expect(transition.reservation.settlement?.overdraftMicros == 100)
        #expect(transition.events.map(\.kind) == [.settle, .overdraft])
        #expect(transition.events[1].overdraftScope == "tenant:acme")
    }
}
