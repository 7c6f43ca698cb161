import PurserEngine
import PurserPolicy
import PurserStore
import Testing

/// Random interleavings of authorize, settle, release, credit and expiry across several keys and
/// tenants, with a clock that crosses day and month boundaries. After every step:
/// - spent + reserved never exceeds any cap, except by the overdraft events recorded for it;
/// - the outbox's settle events sum to every scope's spent counters, period by period;
/// - reserved equals the sum of the open reservations made in the current period;
/// - prepaid balances equal credits minus prepaid charges.
@Suite struct ConservationPropertyTests {
    /// SplitMix64: small, fast and reproducible from a seed, so a failure can be replayed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let secrets = [
        StoreFixture.secrets.acmeProd, StoreFixture.secrets.rotatedNew, StoreFixture.secrets.rotatedOld,
        StoreFixture.secrets.globex, StoreFixture.secrets.initech, StoreFixture.secrets.umbrella,
    ]
    static let tagChoices = [[], ["summarize"], ["batch-eval"], ["summarize", "batch-eval"], ["adhoc"]]

    /// Tight caps so that denials, overdrafts and rollovers all happen within a few hundred steps.
    static var tightPolicy: Policy {
        var policy = StoreFixture.policy
        policy.keys[0].budgets = [Budget(period: .total, capMicros: 3_000_000), Budget(period: .day, capMicros: 400_000)]
        policy.tenants["acme"]!.budgets = [Budget(period: .month, capMicros: 2_000_000), Budget(period: .day, capMicros: 500_000)]
        policy.tenants["acme"]!.tags["summarize"] = TagPolicy(budgets: [Budget(period: .day, capMicros: 200_000)])
        policy.tags["batch-eval"] = TagPolicy(budgets: [Budget(period: .month, capMicros: 700_000)])
        policy.plans["free"]!.budgets = [Budget(period: .month, capMicros: 600_000)]
        policy.plans["free"]!.models = [StoreFixture.pattern("*")]
        policy.plans["free"]!.rateLimits = RateLimits(requestsPerMinute: 30)
        return policy
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomInterleavingsConserveMoney(seed: UInt64) throws {
        var random = SeededGenerator(state: seed)
        // Start an hour before a month ends, so the run crosses a day and a month.
        let fixture = try StoreFixture(policy: Self.tightPolicy, now: Timestamp(secondsSinceEpoch: 1_796_079_600))
        var reservationIds: [String] = []
        var creditNumber = 0
        for step in 0..<400 {
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<45:
                let secret = Self.secrets.randomElement(using: &random)!
                let tags = Self.tagChoices.randomElement(using: &random)!
                let micros = Int64.random(in: 0...150_000, using: &random)
                if case .allow(let allowance) = try fixture.authorize(secret, model: "gpt-5.4-mini", tags: tags, micros: micros),
                   !allowance.replayed {
                    reservationIds.append(allowance.reservationId)
                }
            case 45..<70:
                guard let id = reservationIds.randomElement(using: &random) else { break }
                // Costs range below and above the estimate, to exercise overdraft.
                _ = try fixture.settle(id, micros: Int64.random(in: 0...200_000, using: &random))
            case 70..<80:
                guard let id = reservationIds.randomElement(using: &random) else { break }
                _ = try fixture.store.release(reservationId: id, now: fixture.now)
            case 80..<85:
                creditNumber += 1
                _ = try fixture.store.credit(
                    tenantId: "initech", micros: Int64.random(in: 1...300_000, using: &random), memo: "top-up",
                    requestId: "credit-\(creditNumber)", now: fixture.now
                )
            case 85..<95:
                fixture.advance(seconds: Int64.random(in: 1...400, using: &random))
            default:
                _ = try fixture.store.sweep(now: fixture.now)
            }
            try checkInvariants(fixture, policy: Self.tightPolicy, step: step, seed: seed)
        }
        // The run must have exercised what it claims to.
        let kinds = Set(try fixture.events().map(\.kind))
        #expect(kinds.isSuperset(of: [.settle, .release, .credit, .overdraft, .expire]), "seed \(seed) saw only \(kinds)")
    }

    struct PeriodKey: Hashable {
        var scope: String
        var period: BudgetPeriod
        var index: Int64
    }

    func checkInvariants(_ fixture: StoreFixture, policy: Policy, step: Int, seed: UInt64) throws {
        let indexes = PeriodIndexes(at: fixture.now)
        let states = try fixture.store.allStates().mapValues { $0.rolled(to: indexes) }
        let events = try fixture.events()
        let open = try fixture.store.openReservations()

        var spent: [PeriodKey: Int64] = [:]
        var overdraft: [PeriodKey: Int64] = [:]
        var balanceCharged: [String: Int64] = [:]
        var credited: [String: Int64] = [:]
        var balanceOverdraft: [String: Int64] = [:]
        for event in events {
            let eventIndexes = PeriodIndexes(at: event.time)
            switch event.kind {
            case .settle:
                for scope in event.scopes {
                    for period in BudgetPeriod.allCases {
                        spent[PeriodKey(scope: scope.description, period: period, index: eventIndexes.index(of: period)), default: 0] += event.costMicros
                    }
                }
                if event.drawsBalance { balanceCharged[event.tenantId, default: 0] += event.costMicros }
            case .overdraft:
                if let period = event.overdraftPeriod {
                    overdraft[PeriodKey(scope: event.overdraftScope!, period: period, index: eventIndexes.index(of: period)), default: 0] += event.overdraftMicros
                } else {
                    balanceOverdraft[event.tenantId, default: 0] += event.overdraftMicros
                }
            case .credit:
                credited[event.tenantId, default: 0] += event.creditMicros
            case .release, .expire:
                break
            }
        }

        let context = "seed \(seed) step \(step)"
        for (scope, state) in states {
            for period in BudgetPeriod.allCases {
                let key = PeriodKey(scope: scope.description, period: period, index: indexes.index(of: period))
                let counter = state.counter(for: period)
                #expect(counter.spentMicros == spent[key] ?? 0, "spent of \(key) at \(context)")
                let reserved = open.filter { $0.scopes.contains(scope) && $0.reservedIndexes.index(of: period) == indexes.index(of: period) }
                    .reduce(Int64(0)) { $0 + $1.estimateMicros }
                #expect(counter.reservedMicros == reserved, "reserved of \(key) at \(context)")
                for cap in caps(of: scope, in: policy) where cap.period == period {
                    #expect(counter.spentMicros + counter.reservedMicros <= cap.capMicros + (overdraft[key] ?? 0), "cap of \(key) at \(context)")
                }
            }
            if case .tenant(let tenantId) = scope {
                #expect(state.creditedMicros == credited[tenantId] ?? 0, "credits of \(tenantId) at \(context)")
                #expect(state.balanceMicros == (credited[tenantId] ?? 0) - (balanceCharged[tenantId] ?? 0), "balance of \(tenantId) at \(context)")
                #expect(state.balanceAvailableMicros >= -(balanceOverdraft[tenantId] ?? 0), "balance overdraft of \(tenantId) at \(context)")
                #expect(state.inflightCount == Int64(open.filter { $0.tenantId == tenantId }.count), "in-flight of \(tenantId) at \(context)")
            }
        }
    }

    func caps(of scope: Scope, in policy: Policy) -> [Budget] {
        switch scope {
        case .key(let id): return policy.keys.first { $0.id == id }?.budgets ?? []
        case .tenant(let id):
            guard let tenant = policy.tenants[id] else { return [] }
            return tenant.budgets + (policy.plans[tenant.plan]?.budgets ?? [])
        case .tenantTag(let tenant, let tag): return policy.tenants[tenant]?.tags[tag]?.budgets ?? []
        case .tag(let tag): return policy.tags[tag]?.budgets ?? []
        }
    }
}
