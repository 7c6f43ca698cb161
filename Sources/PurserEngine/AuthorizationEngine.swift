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

/// The result of the store's `decide`: like `AuthorizationOutcome`, with the states by position.
package struct DecidedAuthorization {
    package var decision: Decision
    package var reservation: Reservation?
    /// The request's scopes, each once, in the order they first appear in `prepared.scopes`.
    package var scopes: [Scope]
    /// On allow, the state of each of `scopes` after the decision: what to write. On deny,
    /// nothing is to be written.
    package var states: [ScopeState]
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
        return prepare(
            validatedRequest: request, match: match, tenant: tenant, plan: plan, accountTags: accountTags, price: price,
            defaults: defaults, policyVersion: policyVersion, now: now
        )
    }

    /// `prepare` for a request whose `validate()` the caller has just run and found no problem
    /// in: the store validates before it looks anything up, and validating twice cost it ~2% of
    /// an authorize.
    package static func prepare(
        validatedRequest request: AuthorizeRequest,
        match: KeyMatch,
        tenant: Tenant,
        plan: Plan,
        accountTags: [String: TagPolicy],
        price: ModelPrice?,
        defaults: PolicyDefaults,
        policyVersion: String,
        now: Timestamp
    ) -> Result<PreparedAuthorization, Denial> {
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
        let decided = decide(prepared, loadedStates: prepared.scopes.map { loaded[$0] }, reservationId: reservationId, now: now)
        guard let reservation = decided.reservation else {
            return AuthorizationOutcome(decision: decided.decision, reservation: nil, states: loaded)
        }
        var statesByScope: [Scope: ScopeState] = [:]
        statesByScope.reserveCapacity(decided.scopes.count)
        for (scope, state) in zip(decided.scopes, decided.states) {
            statesByScope[scope] = state
        }
        return AuthorizationOutcome(decision: decided.decision, reservation: reservation, states: statesByScope)
    }

    /// `decide` with the states in arrays: `loadedStates[i]` is the stored state of
    /// `prepared.scopes[i]`, nil for a scope never used. The store loads and writes states by
    /// position, and building, hashing (a scope's strings) and walking dictionaries for that was
    /// ~2% of an authorize.
    package static func decide(
        _ prepared: PreparedAuthorization,
        loadedStates: [ScopeState?],
        reservationId: String,
        now: Timestamp
    ) -> DecidedAuthorization {
        let indexes = PeriodIndexes(at: now)
        // The scopes' states live in an array, each scope once, and `stateIndexes[i]` says where
        // the state of `scopes[i]` is: a handful of scopes, so a linear search to build this beats
        // hashing a `Scope` (its strings) on every one of the dozen lookups a decision makes.
        let scopes = prepared.scopes
        precondition(loadedStates.count == scopes.count, "one loaded state, or nil, per scope")
        var distinctScopes: [Scope] = []
        var states: [ScopeState] = []
        var stateIndexes: [Int] = []
        distinctScopes.reserveCapacity(scopes.count)
        states.reserveCapacity(scopes.count)
        stateIndexes.reserveCapacity(scopes.count)
        for (position, scope) in scopes.enumerated() {
            if let index = distinctScopes.firstIndex(of: scope) {
                stateIndexes.append(index)
            } else {
                stateIndexes.append(distinctScopes.count)
                distinctScopes.append(scope)
                states.append((loadedStates[position] ?? .empty(at: indexes)).rolled(to: indexes))
            }
        }
        let keyScope = Scope.key(prepared.key.id)
        let tenantScope = Scope.tenant(prepared.tenant.id)
        guard let keyIndex = distinctScopes.firstIndex(of: keyScope), let tenantIndex = distinctScopes.firstIndex(of: tenantScope) else {
            preconditionFailure("a prepared authorization has the key's and the tenant's scopes")
        }
        func deny(_ denial: Denial) -> DecidedAuthorization {
            DecidedAuthorization(decision: .deny(denial), reservation: nil, scopes: distinctScopes, states: states)
        }

        // Concurrency.
        for (index, limits) in [(keyIndex, prepared.keyRateLimits), (tenantIndex, prepared.tenantRateLimits)] {
            if let inflightMax = limits.inflightMax, states[index].inflightCount >= inflightMax {
                return deny(Denial(reason: .concurrencyLimited, detail: "max_inflight", scope: distinctScopes[index].description))
            }
        }

        // Rate limits. Evaluated on copies; nothing is stored unless every check passes.
        let nowNanoseconds = now.nanosecondsSinceEpoch
        var rateDenial: Denial?
        var requestsRemaining: Int64?
        var tokensRemaining: Int64?
        func checkRates(of index: Int, limits: RateLimits) {
            var state = states[index]
            // `rpm` first, then `tpm`.
            for isRequests in [true, false] {
                let name = isRequests ? "rpm" : "tpm"
                guard let limit = isRequests ? limits.requestsPerMinute : limits.tokensPerMinute else { continue }
                let limiter = GenericCellRateAlgorithm(limitPerMinute: limit)
                let stored = isRequests ? state.requestsTheoreticalArrivalNanoseconds : state.tokensTheoreticalArrivalNanoseconds
                switch limiter.admit(cost: isRequests ? 1 : prepared.estimateTokens, storedTheoreticalArrivalNanoseconds: stored, now: nowNanoseconds) {
                case .allowed(let next, let remaining):
                    if isRequests {
                        state.requestsTheoreticalArrivalNanoseconds = next
                        requestsRemaining = min(requestsRemaining ?? remaining, remaining)
                    } else {
                        state.tokensTheoreticalArrivalNanoseconds = next
                        tokensRemaining = min(tokensRemaining ?? remaining, remaining)
                    }
                case .denied(let retryAfterNanoseconds):
                    let milliseconds = (retryAfterNanoseconds + Timestamp.nanosecondsPerMillisecond - 1) / Timestamp.nanosecondsPerMillisecond
                    // When several limits deny, the request fits only once all of them admit it.
                    if rateDenial == nil || (rateDenial!.retryAfterMilliseconds.map { $0 < milliseconds } ?? false) {
                        rateDenial = Denial(
                            reason: .rateLimited, detail: name, scope: distinctScopes[index].description, retryAfterMilliseconds: milliseconds
                        )
                    }
                case .neverFits:
                    rateDenial = Denial(
                        reason: .rateLimited, detail: "\(name): the request exceeds the whole limit", scope: distinctScopes[index].description
                    )
                }
                if let denial = rateDenial, denial.retryAfterMilliseconds == nil { break }
            }
            states[index] = state
        }
        checkRates(of: keyIndex, limits: prepared.keyRateLimits)
        checkRates(of: tenantIndex, limits: prepared.tenantRateLimits)
        if let rateDenial {
            return deny(rateDenial)
        }

        // Budgets: every cap of every scope must leave room for the whole estimate. The lowest
        // remaining budget is kept as figures and described once at the end, not at every
        // improvement.
        let estimate = prepared.estimateMicros
        var lowestBudget: (entryIndex: Int, budget: Budget, remainingMicros: Int64)?
        var budgetDenial: Denial?
        for (entryIndex, entry) in prepared.scopeBudgets.enumerated() {
            let state = states[stateIndexes[entryIndex]]
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
                } else if lowestBudget == nil || remaining - estimate < lowestBudget!.remainingMicros {
                    lowestBudget = (entryIndex, budget, remaining - estimate)
                }
            }
        }
        if let budgetDenial {
            return deny(budgetDenial)
        }
        var lowest = lowestBudget.map { entryIndex, budget, remainingMicros in
            RemainingBudget(
                scope: prepared.scopeBudgets[entryIndex].scope.description, period: budget.period, capMicros: budget.capMicros,
                remainingMicros: remainingMicros
            )
        }
        if prepared.tenant.prepaid {
            let tenantState = states[tenantIndex]
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
        for stateIndex in stateIndexes {
            states[stateIndex].modifyCounters { _, counter in counter.reservedMicros += estimate }
        }
        states[keyIndex].inflightCount += 1
        states[tenantIndex].inflightCount += 1
        if prepared.tenant.prepaid {
            states[tenantIndex].balanceReservedMicros += estimate
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
            scopes: scopes,
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
        return DecidedAuthorization(decision: .allow(allowance), reservation: reservation, scopes: distinctScopes, states: states)
    }
}
