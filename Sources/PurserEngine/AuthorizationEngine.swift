import PurserPolicy

/// The key a secret resolved to, and whether it matched through the rotated-out secret.
public struct KeyMatch: Hashable, Sendable {
    public var key: KeyPolicy
    public var viaPreviousSecret: Bool

    public init(key: KeyPolicy, viaPreviousSecret: Bool) {
        self.key = key
        self.viaPreviousSecret = viaPreviousSecret
    }
}

/// The budgets that apply to one scope for one request.
public struct ScopeBudgets: Hashable, Sendable {
    public var scope: Scope
    public var budgets: [Budget]

    public init(scope: Scope, budgets: [Budget]) {
        self.scope = scope
        self.budgets = budgets
    }
}

/// An authorize that passed every check needing no state, with the scopes whose state the
/// caller must load before `AuthorizationEngine.decide`.
public struct PreparedAuthorization: Hashable, Sendable {
    public var request: AuthorizeRequest
    public var key: KeyPolicy
    public var tenant: Tenant
    public var effectiveTags: [String]
    /// Key first, tenant second, then tenant tags and account tags: the order counters are
    /// checked and reported in.
    public var scopeBudgets: [ScopeBudgets]
    public var keyRateLimits: RateLimits
    public var tenantRateLimits: RateLimits
    public var estimateMicros: Int64
    public var estimateTokens: Int64
    public var price: ModelPrice?
    public var defaults: PolicyDefaults
    public var policyVersion: String

    public var scopes: [Scope] { scopeBudgets.map(\.scope) }
}

/// The result of `decide`: the answer, and on allow the records to write in the same transaction.
public struct AuthorizationOutcome: Hashable, Sendable {
    public var decision: Decision
    public var reservation: Reservation?
    /// Every loaded scope's state after the decision; unchanged on deny, so there is nothing to write.
    public var states: [Scope: ScopeState]
}

/// Pure authorize logic: values in, values out. No clock, no storage, no randomness.
public enum AuthorizationEngine {
    /// Checks that need the policy but no counters: key status, model allowlist and pricing.
    ///
    /// `accountTags` needs to hold at least the policy's account tags for the request's tags and
    /// the key's default tag; extra entries are ignored.
    public static func prepare(
        request: AuthorizeRequest,
        match: KeyMatch,
        tenant: Tenant,
        plan: Plan,
        accountTags: [String: TagPolicy],
        price: ModelPrice?,
        defaults: PolicyDefaults,
        policyVersion: String,
        now: Timestamp
    ) -> Result<PreparedAuthorization, Denial> {
        if let problem = request.validate() {
            return .failure(.badRequest(problem))
        }
        let key = match.key
        if key.disabled {
            return .failure(Denial(reason: .keyDisabled))
        }
        if let expiresAt = key.expiresAt, now >= expiresAt {
            return .failure(Denial(reason: .keyExpired))
        }
        if match.viaPreviousSecret {
            // A rotated-out secret is accepted only inside its window; after it, the holder is told
            // the secret expired rather than that it never existed, so they know to switch.
            guard let validUntil = key.previousValidUntil, now < validUntil else {
                return .failure(Denial(reason: .keyExpired, detail: "previous secret"))
            }
        }
        // The key's list narrows the plan's: a model must pass both.
        guard plan.models.anyMatches(request.model), key.models?.anyMatches(request.model) ?? true else {
            return .failure(Denial(reason: .modelNotAllowed))
        }
        let estimateMicros: Int64
        switch request.estimate.micros(price: price) {
        case .success(let micros): estimateMicros = micros
        case .failure(let problem): return .failure(.badRequest(problem))
        }

        var effectiveTags: [String] = []
        for tag in request.tags where !effectiveTags.contains(tag) {
            effectiveTags.append(tag)
        }
        if let defaultTag = key.defaultTag, !effectiveTags.contains(defaultTag) {
            effectiveTags.append(defaultTag)
        }

        var scopeBudgets = [
            ScopeBudgets(scope: .key(key.id), budgets: key.budgets),
            ScopeBudgets(scope: .tenant(tenant.id), budgets: tenant.budgets + plan.budgets),
        ]
        for tag in effectiveTags {
            if let tagPolicy = tenant.tags[tag] {
                scopeBudgets.append(ScopeBudgets(scope: .tenantTag(tenant: tenant.id, tag: tag), budgets: tagPolicy.budgets))
            }
        }
        for tag in effectiveTags {
            if let tagPolicy = accountTags[tag] {
                scopeBudgets.append(ScopeBudgets(scope: .tag(tag), budgets: tagPolicy.budgets))
            }
        }
        return .success(PreparedAuthorization(
            request: request,
            key: key,
            tenant: tenant,
            effectiveTags: effectiveTags,
            scopeBudgets: scopeBudgets,
            keyRateLimits: key.rateLimits,
            tenantRateLimits: plan.rateLimits.overridden(by: tenant.rateLimits),
            estimateMicros: estimateMicros,
            estimateTokens: request.estimate.tokenCount ?? 0,
            price: price,
            defaults: defaults,
            policyVersion: policyVersion
        ))
    }

    /// Checks concurrency, rate limits, every budget and the prepaid balance against the loaded
    /// states, and on allow reserves the estimate in all of them at once.
    ///
    /// `states` may lack a scope never used before; it then starts empty. Checks run in a fixed
    /// order (concurrency, rate, budget, balance) and the first failing class is reported.
    public static func decide(
        _ prepared: PreparedAuthorization,
        states loaded: [Scope: ScopeState],
        reservationId: String,
        now: Timestamp
    ) -> AuthorizationOutcome {
        let indexes = PeriodIndexes(at: now)
        var states: [Scope: ScopeState] = [:]
        for scope in prepared.scopes {
            states[scope] = (loaded[scope] ?? .empty(at: indexes)).rolled(to: indexes)
        }
        let keyScope = Scope.key(prepared.key.id)
        let tenantScope = Scope.tenant(prepared.tenant.id)
        func deny(_ denial: Denial) -> AuthorizationOutcome {
            AuthorizationOutcome(decision: .deny(denial), reservation: nil, states: loaded)
        }

        // Concurrency.
        let limited: [(Scope, RateLimits)] = [(keyScope, prepared.keyRateLimits), (tenantScope, prepared.tenantRateLimits)]
        for (scope, limits) in limited {
            if let inflightMax = limits.inflightMax, states[scope]!.inflightCount >= inflightMax {
                return deny(Denial(reason: .concurrencyLimited, detail: "max_inflight", scope: scope.description))
            }
        }

        // Rate limits. Evaluated on copies; nothing is stored unless every check passes.
        let nowNanoseconds = now.nanosecondsSinceEpoch
        var rateDenial: Denial?
        var requestsRemaining: Int64?
        var tokensRemaining: Int64?
        for (scope, limits) in limited {
            var state = states[scope]!
            let checks: [(String, Int64?, Int64, WritableKeyPath<ScopeState, Int64>)] = [
                ("rpm", limits.requestsPerMinute, 1, \.requestsTheoreticalArrivalNanoseconds),
                ("tpm", limits.tokensPerMinute, prepared.estimateTokens, \.tokensTheoreticalArrivalNanoseconds),
            ]
            for (name, limit, cost, field) in checks {
                guard let limit else { continue }
                let limiter = GenericCellRateAlgorithm(limitPerMinute: limit)
                switch limiter.admit(cost: cost, storedTheoreticalArrivalNanoseconds: state[keyPath: field], now: nowNanoseconds) {
                case .allowed(let next, let remaining):
                    state[keyPath: field] = next
                    if name == "rpm" {
                        requestsRemaining = min(requestsRemaining ?? remaining, remaining)
                    } else {
                        tokensRemaining = min(tokensRemaining ?? remaining, remaining)
                    }
                case .denied(let retryAfterNanoseconds):
                    let milliseconds = (retryAfterNanoseconds + Timestamp.nanosecondsPerMillisecond - 1) / Timestamp.nanosecondsPerMillisecond
                    // When several limits deny, the request fits only once all of them admit it.
                    if rateDenial == nil || (rateDenial!.retryAfterMilliseconds.map { $0 < milliseconds } ?? false) {
                        rateDenial = Denial(reason: .rateLimited, detail: name, scope: scope.description, retryAfterMilliseconds: milliseconds)
                    }
                case .neverFits:
                    rateDenial = Denial(reason: .rateLimited, detail: "\(name): the request exceeds the whole limit", scope: scope.description)
                }
                if let denial = rateDenial, denial.retryAfterMilliseconds == nil { break }
            }
            states[scope] = state
        }
        if let rateDenial {
            return deny(rateDenial)
        }

        // Budgets: every cap of every scope must leave room for the whole estimate.
        let estimate = prepared.estimateMicros
        var lowest: RemainingBudget?
        var budgetDenial: Denial?
        for entry in prepared.scopeBudgets {
            let state = states[entry.scope]!
            for budget in entry.budgets {
                let counter = state.counter(for: budget.period)
                let remaining = budget.capMicros - counter.spentMicros - counter.reservedMicros
                // A scope at or past its cap admits nothing, not even a zero estimate.
                if remaining <= 0 || estimate > remaining {
                    if budgetDenial == nil || remaining < budgetDenial!.remainingMicros! {
                        budgetDenial = Denial(
                            reason: .budgetExceeded, scope: entry.scope.description, period: budget.period,
                            capMicros: budget.capMicros, remainingMicros: remaining
                        )
                    }
                } else if lowest == nil || remaining - estimate < lowest!.remainingMicros {
                    lowest = RemainingBudget(
                        scope: entry.scope.description, period: budget.period, capMicros: budget.capMicros,
                        remainingMicros: remaining - estimate
                    )
                }
            }
        }
        if let budgetDenial {
            return deny(budgetDenial)
        }
        if prepared.tenant.prepaid {
            let tenantState = states[tenantScope]!
            let available = tenantState.balanceAvailableMicros
            let balanceScope = Scope.balanceDescription(tenant: prepared.tenant.id)
            if available <= 0 || estimate > available {
                return deny(Denial(reason: .insufficientBalance, scope: balanceScope, capMicros: tenantState.balanceMicros, remainingMicros: available))
            }
            if lowest == nil || available - estimate < lowest!.remainingMicros {
                lowest = RemainingBudget(scope: balanceScope, period: nil, capMicros: tenantState.balanceMicros, remainingMicros: available - estimate)
            }
        }

        // Allowed: reserve in every scope's every period, and take the in-flight slots.
        for scope in prepared.scopes {
            states[scope]!.modifyCounters { _, counter in counter.reservedMicros += estimate }
        }
        states[keyScope]!.inflightCount += 1
        states[tenantScope]!.inflightCount += 1
        if prepared.tenant.prepaid {
            states[tenantScope]!.balanceReservedMicros += estimate
        }
        let expiresAt = now.adding(seconds: prepared.defaults.reservationTTLSeconds)
        let reservation = Reservation(
            id: reservationId,
            requestId: prepared.request.requestId,
            keyId: prepared.key.id,
            tenantId: prepared.tenant.id,
            model: prepared.request.model,
            tags: prepared.effectiveTags,
            estimateMicros: estimate,
            estimateTokens: prepared.estimateTokens,
            price: prepared.price,
            scopes: prepared.scopes,
            drawsBalance: prepared.tenant.prepaid,
            reservedIndexes: indexes,
            createdAt: now,
            expiresAt: expiresAt,
            state: .open,
            settlement: nil,
            // An open reservation is purged only after it has expired and then been retained.
            purgeAt: expiresAt.adding(seconds: prepared.defaults.reservationRetentionSeconds),
            policyVersion: prepared.policyVersion,
            lowestRemaining: lowest,
            requestsRemaining: requestsRemaining,
            tokensRemaining: tokensRemaining
        )
        let allowance = Allowance(
            reservationId: reservationId, tenantId: prepared.tenant.id, keyId: prepared.key.id, tags: prepared.effectiveTags,
            estimateMicros: estimate, expiresAt: expiresAt, lowestRemaining: lowest,
            requestsRemaining: requestsRemaining, tokensRemaining: tokensRemaining
        )
        return AuthorizationOutcome(decision: .allow(allowance), reservation: reservation, states: states)
    }
}
