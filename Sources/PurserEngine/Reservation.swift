import PurserPolicy

/// Where a reservation is in its life. Only `open` holds reserved money and an in-flight slot.
public enum ReservationState: UInt8, Hashable, Sendable {
    case open = 0
    case settled = 1
    case released = 2
    case expired = 3
}

/// How the upstream request ended, as reported by settle.
public enum SettleStatus: String, CaseIterable, Hashable, Sendable {
    case ok
    case error
    case cancelled
}

/// What a settle charged; stored so that a retried settle returns exactly the first result.
public struct Settlement: Hashable, Sendable {
    public var costMicros: Int64
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var status: SettleStatus
    public var retries: Int64
    public var settledAt: Timestamp
    /// The largest amount by which this settle pushed any scope past its cap (0 if none).
    public var overdraftMicros: Int64
    /// True when the reservation had already expired or been released: the cost was charged
    /// anyway, because money is never lost.
    public var late: Bool

    public init(
        costMicros: Int64, inputTokens: Int64, outputTokens: Int64, status: SettleStatus, retries: Int64,
        settledAt: Timestamp, overdraftMicros: Int64, late: Bool
    ) {
        self.costMicros = costMicros
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.status = status
        self.retries = retries
        self.settledAt = settledAt
        self.overdraftMicros = overdraftMicros
        self.late = late
    }
}

/// Money and an in-flight slot held for one allowed request, from authorize until settle,
/// release or expiry; then kept, finished, until `purgeAt` so retries are answered from it.
public struct Reservation: Hashable, Sendable {
    public var id: String
    public var requestId: String
    public var keyId: String
    public var tenantId: String
    public var model: String
    public var tags: [String]
    public var estimateMicros: Int64
    /// Tokens consumed from `tpm` limits at authorize; corrected at settle.
    public var estimateTokens: Int64
    /// The catalog price at authorize time, used to price a settle given in tokens.
    public var price: ModelPrice?
    /// Every scope whose counters hold this reservation, in a fixed order.
    public var scopes: [Scope]
    /// True when the tenant was prepaid at authorize, so the balance holds the estimate too.
    public var drawsBalance: Bool
    /// The day and month the estimate was reserved in. Counters that have since rolled to a new
    /// period no longer hold it, so release subtracts only where these still match.
    public var reservedIndexes: PeriodIndexes
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var state: ReservationState
    public var settlement: Settlement?
    /// When a finished reservation may be forgotten.
    public var purgeAt: Timestamp
    /// The hash of the policy in force at authorize.
    public var policyVersion: String
    /// The first answer's budget and rate-limit figures, replayed to a retried authorize.
    public var lowestRemaining: RemainingBudget?
    public var requestsRemaining: Int64?
    public var tokensRemaining: Int64?

    public init(
        id: String, requestId: String, keyId: String, tenantId: String, model: String, tags: [String],
        estimateMicros: Int64, estimateTokens: Int64, price: ModelPrice?, scopes: [Scope], drawsBalance: Bool,
        reservedIndexes: PeriodIndexes, createdAt: Timestamp, expiresAt: Timestamp, state: ReservationState,
        settlement: Settlement?, purgeAt: Timestamp, policyVersion: String, lowestRemaining: RemainingBudget?,
        requestsRemaining: Int64?, tokensRemaining: Int64?
    ) {
        self.id = id
        self.requestId = requestId
        self.keyId = keyId
        self.tenantId = tenantId
        self.model = model
        self.tags = tags
        self.estimateMicros = estimateMicros
        self.estimateTokens = estimateTokens
        self.price = price
        self.scopes = scopes
        self.drawsBalance = drawsBalance
        self.reservedIndexes = reservedIndexes
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.state = state
        self.settlement = settlement
        self.purgeAt = purgeAt
        self.policyVersion = policyVersion
        self.lowestRemaining = lowestRemaining
        self.requestsRemaining = requestsRemaining
        self.tokensRemaining = tokensRemaining
    }

    /// The answer a retried authorize with the same request id receives.
    public var replayedAllowance: Allowance {
        Allowance(
            reservationId: id, tenantId: tenantId, keyId: keyId, tags: tags, estimateMicros: estimateMicros,
            expiresAt: expiresAt, lowestRemaining: lowestRemaining, requestsRemaining: requestsRemaining,
            tokensRemaining: tokensRemaining, replayed: true
        )
    }
}
