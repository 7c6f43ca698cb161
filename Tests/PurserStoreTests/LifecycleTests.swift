import PurserEngine
import PurserPolicy
import PurserStore
import Testing

/// Rollovers, overdraft, idempotency, expiry, late settles and reloads, on a real store.
@Suite struct LifecycleTests {
    typealias S = StoreFixture

    @Test func dayRolloverStartsTheDayAtZeroButKeepsTheMonth() throws {
        let fixture = try StoreFixture(now: Timestamp(secondsSinceEpoch: 1_795_391_999))  // 2026-11-22T23:59:59Z
        let allowance = try fixture.allow(S.secrets.rotatedNew, micros: 39_000_000)
        _ = try fixture.settle(allowance.reservationId, micros: 39_000_000)
        #expect(try !fixture.authorize(S.secrets.rotatedNew, micros: 1_000_001).isAllowed)
        fixture.advance(seconds: 1)  // 2026-11-23T00:00:00Z
        let next = try fixture.allow(S.secrets.rotatedNew, micros: 39_000_000)
        #expect(next.lowestRemaining?.period == .day)
        let state = try fixture.state(.tenant("acme"))
        #expect(state.day.spentMicros == 0)
        #expect(state.day.reservedMicros == 39_000_000)
        #expect(state.month.spentMicros == 39_000_000)
        #expect(state.month.reservedMicros == 39_000_000)
    }

    @Test func monthRolloverStartsTheMonthAtZeroButKeepsTheTotal() throws {
        let fixture = try StoreFixture(now: Timestamp(secondsSinceEpoch: 1_796_083_199))  // 2026-11-30T23:59:59Z
        let allowance = try fixture.allow(S.secrets.globex, model: "gpt-5.4-mini", micros: 5_000_000)
        _ = try fixture.settle(allowance.reservationId, micros: 5_000_000)
        #expect(try fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 1) == .deny(Denial(
            reason: .budgetExceeded, scope: "tenant:globex", period: .month, capMicros: 5_000_000, remainingMicros: 0
        )))
        fixture.advance(seconds: 1)  // 2026-12-01
        #expect(try fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 5_000_000).isAllowed)
        let state = try fixture.state(.tenant("globex"))
        #expect(state.total.spentMicros == 5_000_000)
        #expect(state.month.spentMicros == 0)
        #expect(state.month.periodIndex == (2026 - 1970) * 12 + 11)
    }

    @Test func reservationAcrossMidnightIsNotSubtractedFromTheNewDay() throws {
        let fixture = try StoreFixture(now: Timestamp(secondsSinceEpoch: 1_795_391_990))
        let early = try fixture.allow(S.secrets.rotatedNew, micros: 10_000_000)
        fixture.advance(seconds: 20)  // next day
        let late = try fixture.allow(S.secrets.rotatedNew, micros: 5_000_000)
        _ = try fixture.settle(early.reservationId, micros: 8_000_000)
        let state = try fixture.state(.tenant("acme"))
        #expect(state.day.reservedMicros == 5_000_000)  // only today's reservation
        #expect(state.day.spentMicros == 8_000_000)     // charged when settled
        #expect(state.month.reservedMicros == 5_000_000)
        _ = try fixture.settle(late.reservationId, micros: 5_000_000)
        #expect(try fixture.state(.tenant("acme")).day == PeriodCounter(periodIndex: state.day.periodIndex, spentMicros: 13_000_000, reservedMicros: 0))
    }

    @Test func overdraftIsChargedRecordedAndDeniesTheNextRequest() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.globex, model: "gpt-5.4-mini", micros: 4_000_000)
        let answer = try fixture.settle(allowance.reservationId, micros: 6_500_000)
        guard case .settled(_, let settlement, false) = answer else { Issue.record("\(answer)"); return }
        #expect(settlement.costMicros == 6_500_000)
        #expect(settlement.overdraftMicros == 1_500_000)
        let state = try fixture.state(.tenant("globex"))
        #expect(state.month.spentMicros == 6_500_000)
        let overdrafts = try fixture.events().filter { $0.kind == .overdraft }
        #expect(overdrafts.count == 1)
        #expect(overdrafts.first?.overdraftScope == "tenant:globex")
        #expect(overdrafts.first?.overdraftPeriod == .month)
        #expect(overdrafts.first?.overdraftMicros == 1_500_000)
        #expect(overdrafts.first?.costMicros == 0)  // money is in the settle event only
        #expect(try fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini", micros: 0) == .deny(Denial(
            reason: .budgetExceeded, scope: "tenant:globex", period: .month, capMicros: 5_000_000, remainingMicros: -1_500_000
        )))
    }

    @Test func retriedAuthorizeReturnsTheFirstAnswerAndReservesNothingNew() throws {
        let fixture = try StoreFixture()
        let first = try fixture.authorize(S.secrets.acmeProd, micros: 5_000, requestId: "same")
        let stateAfterFirst = try fixture.store.allStates()
        fixture.advance(seconds: 5)
        let second = try fixture.authorize(S.secrets.acmeProd, micros: 9_999, requestId: "same")
        guard case .allow(let a) = first, case .allow(let b) = second else { Issue.record("\(first) \(second)"); return }
        #expect(b.reservationId == a.reservationId)
        #expect(b.estimateMicros == 5_000)
        #expect(b.replayed && !a.replayed)
        #expect(try fixture.store.allStates() == stateAfterFirst)
        // The same request id from another key is another request.
        let other = try fixture.authorize(S.secrets.rotatedNew, micros: 5_000, requestId: "same")
        guard case .allow(let c) = other else { Issue.record("\(other)"); return }
        #expect(c.reservationId != a.reservationId)
    }

    @Test func settlingTwiceChargesOnceAndReturnsTheFirstResult() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, micros: 5_000)
        let first = try fixture.settle(allowance.reservationId, micros: 4_000)
        fixture.advance(seconds: 1)
        let second = try fixture.settle(allowance.reservationId, micros: 7_000)
        guard case .settled(_, let s1, false) = first, case .settled(_, let s2, true) = second else { Issue.record("\(first) \(second)"); return }
        #expect(s1 == s2)
        #expect(try fixture.state(.key("key_acme_prod")).total == PeriodCounter(periodIndex: 0, spentMicros: 4_000, reservedMicros: 0))
        #expect(try fixture.events().filter { $0.kind == .settle }.count == 1)
        // A release after the settle changes nothing either.
        #expect(try fixture.store.release(reservationId: allowance.reservationId, now: fixture.now)
            == .released(reservationId: allowance.reservationId, state: .settled, replayed: true))
    }

    @Test func releaseFreesWithoutChargeAndIsIdempotent() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, micros: 5_000)
        #expect(try fixture.store.release(reservationId: allowance.reservationId, now: fixture.now)
            == .released(reservationId: allowance.reservationId, state: .released, replayed: false))
        #expect(try fixture.store.release(reservationId: allowance.reservationId, now: fixture.now)
            == .released(reservationId: allowance.reservationId, state: .released, replayed: true))
        let state = try fixture.state(.key("key_acme_prod"))
        #expect(state.total == PeriodCounter(periodIndex: 0, spentMicros: 0, reservedMicros: 0))
        #expect(state.inflightCount == 0)
        #expect(try fixture.store.release(reservationId: "rsv_missing", now: fixture.now) == .unknownReservation)
        #expect(try fixture.settle("rsv_missing", micros: 1) == .unknownReservation)
    }

    @Test func sweeperExpiresReservationsPastTheirTTLAndCountsThem() throws {
        let fixture = try StoreFixture()
        let first = try fixture.allow(S.secrets.acmeProd, micros: 5_000)
        fixture.advance(seconds: 300)
        _ = try fixture.allow(S.secrets.acmeProd, micros: 7_000)
        fixture.advance(seconds: 299)  // 599 s after the first: nothing due yet
        #expect(try fixture.store.sweep(now: fixture.now) == SweepSummary(expiredCount: 0, purgedCount: 0, more: false))
        fixture.advance(seconds: 1)  // the first's TTL of 600 s has passed
        #expect(try fixture.store.sweep(now: fixture.now) == SweepSummary(expiredCount: 1, purgedCount: 0, more: false))
        let state = try fixture.state(.key("key_acme_prod"))
        #expect(state.total.reservedMicros == 7_000)
        #expect(state.inflightCount == 1)
        #expect(try fixture.store.reservation(id: first.reservationId)?.state == .expired)
        fixture.advance(seconds: 300)
        #expect(try fixture.store.sweep(now: fixture.now).expiredCount == 1)
        #expect(try fixture.state(.key("key_acme_prod")).total.reservedMicros == 0)
        #expect(try fixture.store.expiredTotalCount() == 2)
        #expect(try fixture.events().filter { $0.kind == .expire }.count == 2)
        // After the retention (1 h) the finished reservations are forgotten.
        fixture.advance(seconds: 3_600)
        #expect(try fixture.store.sweep(now: fixture.now) == SweepSummary(expiredCount: 0, purgedCount: 2, more: false))
        #expect(try fixture.store.reservation(id: first.reservationId) == nil)
    }

    @Test func lateSettleAfterExpiryIsStillCharged() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, micros: 5_000)
        fixture.advance(seconds: 601)
        #expect(try fixture.store.sweep(now: fixture.now).expiredCount == 1)
        let answer = try fixture.settle(allowance.reservationId, micros: 6_000)
        guard case .settled(_, let settlement, false) = answer else { Issue.record("\(answer)"); return }
        #expect(settlement.late)
        #expect(settlement.costMicros == 6_000)
        let state = try fixture.state(.key("key_acme_prod"))
        #expect(state.total == PeriodCounter(periodIndex: 0, spentMicros: 6_000, reservedMicros: 0))
        #expect(state.inflightCount == 0)
        #expect(try fixture.events().map(\.kind) == [.expire, .settle])
    }

    @Test func reloadWhileReservationsAreOpenKeepsCountersAndSettles() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, micros: 5_000)
        var policy = StoreFixture.policy
        policy.keys[0].rateLimits.requestsPerMinute = 1
        try fixture.store.loadPolicy(policy, version: "test-policy-2", now: fixture.now)
        #expect(try fixture.store.policyMetadata()?.version == "test-policy-2")
        // The reservation made under the old policy still settles, against the same counters.
        guard case .settled = try fixture.settle(allowance.reservationId, micros: 4_000) else { Issue.record("settle failed"); return }
        #expect(try fixture.state(.key("key_acme_prod")).total == PeriodCounter(periodIndex: 0, spentMicros: 4_000, reservedMicros: 0))
        // The new rpm of 1 applies, with the request already made under the old policy counted.
        #expect(try fixture.authorize(S.secrets.acmeProd).isAllowed == false)
    }

    @Test func loweringACapBelowSpendDeniesTheNextRequest() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, micros: 30_000_000)
        _ = try fixture.settle(allowance.reservationId, micros: 30_000_000)
        var policy = StoreFixture.policy
        policy.keys[0].budgets = [Budget(period: .total, capMicros: 20_000_000)]
        try fixture.store.loadPolicy(policy, version: "lowered", now: fixture.now)
        #expect(try fixture.authorize(S.secrets.acmeProd, micros: 1) == .deny(Denial(
            reason: .budgetExceeded, scope: "key:key_acme_prod", period: .total, capMicros: 20_000_000, remainingMicros: -10_000_000
        )))
    }

    @Test func removingAKeyByReloadMakesItUnknownButItsOpenReservationStillSettles() throws {
        let fixture = try StoreFixture()
        let allowance = try fixture.allow(S.secrets.acmeProd, micros: 5_000)
        var policy = StoreFixture.policy
        policy.keys.removeFirst()
        try fixture.store.loadPolicy(policy, version: "removed", now: fixture.now)
        #expect(try fixture.authorize(S.secrets.acmeProd) == .deny(Denial(reason: .unknownKey)))
        guard case .settled(_, let settlement, false) = try fixture.settle(allowance.reservationId, micros: 5_000) else {
            Issue.record("settle failed"); return
        }
        #expect(settlement.costMicros == 5_000)
        #expect(try fixture.state(.tenant("acme")).month.spentMicros == 5_000)
    }

    @Test func settleInTokensIsPricedAndCorrectsTheTokenLimit() throws {
        let fixture = try StoreFixture()
        let decision = try fixture.authorize(S.secrets.acmeProd, estimate: .tokens(inputTokens: 100_000, outputTokens: 90_000))
        guard case .allow(let allowance) = decision else { Issue.record("\(decision)"); return }
        // 190,000 of the key's 200,000 tpm are taken; the request used only 10,000.
        let answer = try fixture.store.settle(
            SettleRequest(reservationId: allowance.reservationId, cost: .tokens(inputTokens: 8_000, outputTokens: 2_000)), now: fixture.now
        )
        guard case .settled(_, let settlement, _) = answer else { Issue.record("\(answer)"); return }
        #expect(settlement.costMicros == 30_000)  // 8,000 × 1.25 + 2,000 × 10 = 10,000 + 20,000
        // After the correction, 190,000 more tokens fit at once.
        #expect(try fixture.authorize(S.secrets.acmeProd, estimate: .tokens(inputTokens: 100_000, outputTokens: 90_000)).isAllowed)
    }

    @Test func stateSurvivesClosingAndReopeningTheStore() throws {
        let directory: String
        let reservationId: String
        do {
            let fixture = try StoreFixture()
            directory = fixture.directory + "-copy"
            let store = try StateStore(directory: directory)
            try store.loadPolicy(StoreFixture.policy, version: "v", now: fixture.now)
            guard case .allow(let allowance) = try store.authorize(
                secret: S.secrets.acmeProd, request: AuthorizeRequest(requestId: "r1", model: "gpt-5.4", estimate: .micros(7)), now: fixture.now
            ) else { Issue.record("denied"); return }
            reservationId = allowance.reservationId
            store.close()
        }
        let reopened = try StateStore(directory: directory)
        defer { reopened.close() }
        #expect(try reopened.reservation(id: reservationId)?.estimateMicros == 7)
        #expect(try reopened.state(of: .key("key_acme_prod"))?.total.reservedMicros == 7)
        #expect(try reopened.policyMetadata()?.version == "v")
    }
}
