import PurserPolicy

/// One settle call.
public struct SettleRequest: Hashable, Sendable {
    public var reservationId: String
    public var cost: TokenOrMicrosAmount
    public var status: SettleStatus
    public var retries: Int64

    public init(reservationId: String, cost: TokenOrMicrosAmount, status: SettleStatus = .ok, retries: Int64 = 0) {
        self.reservationId = reservationId
        self.cost = cost
        self.status = status
        self.retries = retries
    }
}

/// What changed when a reservation finished: the records to write and the events to append.
public struct ReservationTransition: Hashable, Sendable {
    public var reservation: Reservation
    /// Only the scopes that changed; empty for a replay.
    public var states: [Scope: ScopeState]
    public var events: [LedgerEvent]
    /// True when the reservation had already finished this way, so nothing changed.
    public var replayed: Bool
}

/// The current caps and rate limits of a reservation's scopes, from the policy now in force. A
/// scope that has left the policy simply has no entry.
public struct ScopeLimits: Hashable, Sendable {
    public var budgets: [Scope: [Budget]]
    public var keyRateLimits: RateLimits
    public var tenantRateLimits: RateLimits

    public init(budgets: [Scope: [Budget]] = [:], keyRateLimits: RateLimits = .unlimited, tenantRateLimits: RateLimits = .unlimited) {
        self.budgets = budgets
        self.keyRateLimits = keyRateLimits
        self.tenantRateLimits = tenantRateLimits
    }
}

/// Pure settle, release, expiry and credit logic.
public enum SettlementEngine {
    /// Charges the actual cost to every scope the reservation touched and frees what it held.
    ///
    /// A cost above the estimate is charged in full, because a response already streamed cannot
    /// be taken back; whatever that pushes past a cap is recorded as an `overdraft` event. A
    /// reservation that already expired or was released is charged too (`late`). A second settle
    /// of a settled reservation changes nothing and returns the first result.
    public static func settle(
        _ request: SettleRequest,
        reservation: Reservation,
        states loaded: [Scope: ScopeState],
        limits: ScopeLimits,
        retentionSeconds: Int64,
        now: Timestamp
    ) -> Result<ReservationTransition, BadRequest> {
        if reservation.state == .settled {
            return .success(ReservationTransition(reservation: reservation, states: [:], events: [], replayed: true))
        }
        guard request.retries >= 0, request.retries <= EngineLimits.retriesCountMax else {
            return .failure(BadRequest("retries must be between 0 and \(EngineLimits.retriesCountMax)"))
        }
        let costMicros: Int64
        switch request.cost.micros(price: reservation.price) {
        case .success(let micros): costMicros = micros
        case .failure(let problem): return .failure(problem)
        }

        let indexes = PeriodIndexes(at: now)
        var states = rolledStates(of: reservation, from: loaded, at: indexes)
        let before = states
        let wasOpen = reservation.state == .open
        if wasOpen {
            unreserve(reservation, in: &states)
        }
        for scope in reservation.scopes {
            states[scope]!.modifyCounters { _, counter in counter.spentMicros += costMicros }
        }
        let tenantScope = Scope.tenant(reservation.tenantId)
        if reservation.drawsBalance {
            states[tenantScope]!.balanceMicros -= costMicros
        }
        if let actualTokens = request.cost.tokenCount {
            correctTokenLimits(of: reservation, actualTokens: actualTokens, limits: limits, states: &states, now: now)
        }

        var settled = reservation
        var events: [LedgerEvent] = []
        var overdraftMicros: Int64 = 0
        for overdraft in overdrafts(of: reservation, before: before, after: states, limits: limits) {
            overdraftMicros = max(overdraftMicros, overdraft.overdraftMicros)
            var event = LedgerEvent(kind: .overdraft, reservation: reservation, time: now)
            event.overdraftScope = overdraft.scope
            event.overdraftPeriod = overdraft.period
            event.overdraftMicros = overdraft.overdraftMicros
            events.append(event)
        }
        let settlement = Settlement(
            costMicros: costMicros, inputTokens: request.cost.inputTokens, outputTokens: request.cost.outputTokens,
            status: request.status, retries: request.retries, settledAt: now, overdraftMicros: overdraftMicros, late: !wasOpen
        )
        settled.state = .settled
        settled.settlement = settlement
        settled.purgeAt = now.adding(seconds: retentionSeconds)

        var event = LedgerEvent(kind: .settle, reservation: reservation, time: now)
        event.inputTokens = settlement.inputTokens
        event.outputTokens = settlement.outputTokens
        event.costMicros = costMicros
        event.status = request.status
        event.retries = request.retries
        events.insert(event, at: 0)
        return .success(ReservationTransition(reservation: settled, states: states, events: events, replayed: false))
    }

    /// Frees an open reservation without charge. Anything but an open reservation is left as it is.
    public static func release(
        reservation: Reservation, states loaded: [Scope: ScopeState], retentionSeconds: Int64, now: Timestamp
    ) -> ReservationTransition {
        finish(reservation, as: .released, eventKind: .release, states: loaded, retentionSeconds: retentionSeconds, now: now)
    }

    /// Frees an open reservation whose TTL has passed. Called by the sweeper.
    public static func expire(
        reservation: Reservation, states loaded: [Scope: ScopeState], retentionSeconds: Int64, now: Timestamp
    ) -> ReservationTransition {
        guard now >= reservation.expiresAt else {
            return ReservationTransition(reservation: reservation, states: [:], events: [], replayed: true)
        }
        return finish(reservation, as: .expired, eventKind: .expire, states: loaded, retentionSeconds: retentionSeconds, now: now)
    }

    /// Adds to a tenant's prepaid balance and records a `credit` event.
    public static func credit(
        tenantId: String, micros: Int64, memo: String, requestId: String, state loaded: ScopeState?, now: Timestamp
    ) -> Result<(state: ScopeState, event: LedgerEvent), BadRequest> {
        guard micros > 0, micros <= EngineLimits.creditMicrosMax else {
            return .failure(BadRequest("credit micros must be between 1 and \(EngineLimits.creditMicrosMax)"))
        }
        guard memo.utf8.count <= EngineLimits.memoBytesMax else {
            return .failure(BadRequest("memo must be at most \(EngineLimits.memoBytesMax) bytes"))
        }
        var state = (loaded ?? .empty(at: PeriodIndexes(at: now))).rolled(to: PeriodIndexes(at: now))
        state.balanceMicros += micros
        state.creditedMicros += micros
        let event = LedgerEvent(kind: .credit, time: now, tenantId: tenantId, requestId: requestId, creditMicros: micros, memo: memo)
        return .success((state, event))
    }

    // MARK: - Shared steps

    private static func finish(
        _ reservation: Reservation, as state: ReservationState, eventKind: LedgerEventKind, states loaded: [Scope: ScopeState],
        retentionSeconds: Int64, now: Timestamp
    ) -> ReservationTransition {
        guard reservation.state == .open else {
            return ReservationTransition(reservation: reservation, states: [:], events: [], replayed: true)
        }
        var states = rolledStates(of: reservation, from: loaded, at: PeriodIndexes(at: now))
        unreserve(reservation, in: &states)
        var finished = reservation
        finished.state = state
        finished.purgeAt = now.adding(seconds: retentionSeconds)
        let event = LedgerEvent(kind: eventKind, reservation: reservation, time: now)
        return ReservationTransition(reservation: finished, states: states, events: [event], replayed: false)
    }

    private static func rolledStates(of reservation: Reservation, from loaded: [Scope: ScopeState], at indexes: PeriodIndexes) -> [Scope: ScopeState] {
        var states: [Scope: ScopeState] = [:]
        for scope in reservation.scopes {
            states[scope] = (loaded[scope] ?? .empty(at: indexes)).rolled(to: indexes)
        }
        return states
    }

    /// Gives back what an open reservation holds: its estimate in every counter still in the
    /// period it was reserved in, its in-flight slots, and its share of the prepaid balance.
    private static func unreserve(_ reservation: Reservation, in states: inout [Scope: ScopeState]) {
        let estimate = reservation.estimateMicros
        for scope in reservation.scopes {
            states[scope]!.modifyCounters { period, counter in
                if counter.periodIndex == reservation.reservedIndexes.index(of: period) {
                    counter.reservedMicros -= estimate
                    assert(counter.reservedMicros >= 0, "reserved micros went negative in \(scope) \(period)")
                }
            }
        }
        let keyScope = Scope.key(reservation.keyId)
        let tenantScope = Scope.tenant(reservation.tenantId)
        states[keyScope]!.inflightCount -= 1
        states[tenantScope]!.inflightCount -= 1
        assert(states[keyScope]!.inflightCount >= 0 && states[tenantScope]!.inflightCount >= 0, "in-flight count went negative")
        if reservation.drawsBalance {
            states[tenantScope]!.balanceReservedMicros -= estimate
            assert(states[tenantScope]!.balanceReservedMicros >= 0, "reserved balance went negative")
        }
    }

    /// Moves the `tpm` limiters by the difference between the tokens used and those estimated.
    private static func correctTokenLimits(
        of reservation: Reservation, actualTokens: Int64, limits: ScopeLimits, states: inout [Scope: ScopeState], now: Timestamp
    ) {
        let delta = actualTokens - reservation.estimateTokens
        guard delta != 0 else { return }
        let limited: [(Scope, RateLimits)] = [(.key(reservation.keyId), limits.keyRateLimits), (.tenant(reservation.tenantId), limits.tenantRateLimits)]
        for (scope, rateLimits) in limited {
            guard let tokensPerMinute = rateLimits.tokensPerMinute else { continue }
            let limiter = GenericCellRateAlgorithm(limitPerMinute: tokensPerMinute)
            let stored = states[scope]!.tokensTheoreticalArrivalNanoseconds
            states[scope]!.tokensTheoreticalArrivalNanoseconds =
                limiter.corrected(storedTheoreticalArrivalNanoseconds: stored, delta: delta, now: now.nanosecondsSinceEpoch)
        }
    }

    struct Overdraft {
        var scope: String
        var period: BudgetPeriod?
        var overdraftMicros: Int64
    }

    /// Every cap (and the prepaid balance) that this settle pushed further past its limit, with
    /// the amount of the push. Caps are the current policy's.
    static func overdrafts(
        of reservation: Reservation, before: [Scope: ScopeState], after: [Scope: ScopeState], limits: ScopeLimits
    ) -> [Overdraft] {
        var found: [Overdraft] = []
        for scope in reservation.scopes {
            for budget in limits.budgets[scope] ?? [] {
                let old = before[scope]!.counter(for: budget.period)
                let new = after[scope]!.counter(for: budget.period)
                let excessBefore = max(0, old.spentMicros + old.reservedMicros - budget.capMicros)
                let excessAfter = max(0, new.spentMicros + new.reservedMicros - budget.capMicros)
                if excessAfter > excessBefore {
                    found.append(Overdraft(scope: scope.description, period: budget.period, overdraftMicros: excessAfter - excessBefore))
                }
            }
        }
        if reservation.drawsBalance {
            let tenantScope = Scope.tenant(reservation.tenantId)
            let excessBefore = max(0, -before[tenantScope]!.balanceAvailableMicros)
            let excessAfter = max(0, -after[tenantScope]!.balanceAvailableMicros)
            if excessAfter > excessBefore {
                found.append(Overdraft(scope: Scope.balanceDescription(tenant: reservation.tenantId), period: nil, overdraftMicros: excessAfter - excessBefore))
            }
        }
        return found
    }
}
