import PurserPolicy

/// The tightest budget left after a reservation: the number a usage page or a proxy header shows.
public struct RemainingBudget: Hashable, Sendable {
    /// `Scope.description`, or `balance:TENANT` for a prepaid balance.
    public var scope: String
    /// `nil` for a prepaid balance, which has no period.
    public var period: BudgetPeriod?
    public var capMicros: Int64
    public var remainingMicros: Int64

    public init(scope: String, period: BudgetPeriod?, capMicros: Int64, remainingMicros: Int64) {
        self.scope = scope
        self.period = period
        self.capMicros = capMicros
        self.remainingMicros = remainingMicros
    }
}

/// An allowed authorize.
public struct Allowance: Hashable, Sendable {
    public var reservationId: String
    public var tenantId: String
    public var keyId: String
    /// The request's tags plus the key's default tag, without duplicates, in that order.
    public var tags: [String]
    public var estimateMicros: Int64
    public var expiresAt: Timestamp
    /// `nil` when no budget or balance applies.
    public var lowestRemaining: RemainingBudget?
    /// The fewest requests any `rpm` limit still admits right now; `nil` if none applies.
    public var requestsRemaining: Int64?
    /// The fewest tokens any `tpm` limit still admits right now; `nil` if none applies.
    public var tokensRemaining: Int64?
    /// True when this answer is a replay of the first answer to the same request id.
    public var replayed: Bool

    public init(
        reservationId: String, tenantId: String, keyId: String, tags: [String], estimateMicros: Int64,
        expiresAt: Timestamp, lowestRemaining: RemainingBudget?, requestsRemaining: Int64?, tokensRemaining: Int64?,
        replayed: Bool = false
    ) {
        self.reservationId = reservationId
        self.tenantId = tenantId
        self.keyId = keyId
        self.tags = tags
        self.estimateMicros = estimateMicros
        self.expiresAt = expiresAt
        self.lowestRemaining = lowestRemaining
        self.requestsRemaining = requestsRemaining
        self.tokensRemaining = tokensRemaining
        self.replayed = replayed
    }
}

/// A denied authorize. Nothing was reserved and no rate-limit token was consumed.
public struct Denial: Error, Hashable, Sendable {
    public var reason: DenyReason
    public var httpStatus: Int { reason.httpStatus }
    /// For `rate_limited`: the limit at fault (`rpm` or `tpm`). For `concurrency_limited`:
    /// `max_inflight`. For `bad_request`: what was wrong.
    public var detail: String?
    /// For `budget_exceeded`, `insufficient_balance`, `rate_limited` and `concurrency_limited`:
    /// the scope at fault (`key:ID`, `tenant:ID`, `tenant_tag:T/TAG`, `tag:TAG`, `balance:T`).
    public var scope: String?
    public var period: BudgetPeriod?
    public var capMicros: Int64?
    /// What remained before this request; negative after an overdraft.
    public var remainingMicros: Int64?
    /// For `rate_limited`: the milliseconds after which the same request would be allowed, if
    /// nothing else consumes the limit meanwhile. `nil` when it can never fit (more tokens than
    /// the `tpm` limit allows in a minute).
    public var retryAfterMilliseconds: Int64?

    public init(
        reason: DenyReason, detail: String? = nil, scope: String? = nil, period: BudgetPeriod? = nil,
        capMicros: Int64? = nil, remainingMicros: Int64? = nil, retryAfterMilliseconds: Int64? = nil
    ) {
        self.reason = reason
        self.detail = detail
        self.scope = scope
        self.period = period
        self.capMicros = capMicros
        self.remainingMicros = remainingMicros
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    public static func badRequest(_ problem: BadRequest) -> Denial {
        Denial(reason: .badRequest, detail: problem.detail)
    }
}

/// The answer to an authorize.
public enum Decision: Hashable, Sendable {
    case allow(Allowance)
    case deny(Denial)

    public var isAllowed: Bool {
        if case .allow = self { return true }
        return false
    }
}
