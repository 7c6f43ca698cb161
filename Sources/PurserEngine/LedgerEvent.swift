import PurserPolicy

/// What happened, for the ledger. Raw values are stable: they are stored and exported.
public enum LedgerEventKind: String, CaseIterable, Hashable, Sendable {
    case settle
    case release
    case expire
    case credit
    case overdraft
}

/// One entry of the LMDB outbox, appended in the same transaction as the counter change it
/// describes, so that the sum of events always equals the counters.
///
/// Only `settle` events carry a `costMicros` that counters were charged with, and only `credit`
/// events a `creditMicros`; `overdraft` events name the scope and the amount past its cap but
/// repeat no money, so sums over all events never double count.
public struct LedgerEvent: Hashable, Sendable {
    /// Assigned by the store when the event is appended; strictly increasing.
    public var sequence: UInt64
    public var kind: LedgerEventKind
    public var time: Timestamp
    public var tenantId: String
    public var keyId: String
    public var tags: [String]
    public var model: String
    public var inputTokens: Int64
    public var outputTokens: Int64
    public var costMicros: Int64
    public var estimateMicros: Int64
    public var status: SettleStatus?
    public var retries: Int64
    public var requestId: String
    public var reservationId: String
    public var policyVersion: String
    public var price: ModelPrice?
    /// The scopes a `settle` charged (and, when `drawsBalance`, the tenant's balance too).
    public var scopes: [Scope]
    public var drawsBalance: Bool
    /// For `overdraft`: the scope pushed past its cap, the period, and by how much.
    public var overdraftScope: String?
    public var overdraftPeriod: BudgetPeriod?
    public var overdraftMicros: Int64
    /// For `credit`.
    public var creditMicros: Int64
    public var memo: String

    public init(
        sequence: UInt64 = 0, kind: LedgerEventKind, time: Timestamp, tenantId: String, keyId: String = "",
        tags: [String] = [], model: String = "", inputTokens: Int64 = 0, outputTokens: Int64 = 0, costMicros: Int64 = 0,
        estimateMicros: Int64 = 0, status: SettleStatus? = nil, retries: Int64 = 0, requestId: String = "",
        reservationId: String = "", policyVersion: String = "", price: ModelPrice? = nil, scopes: [Scope] = [],
        drawsBalance: Bool = false, overdraftScope: String? = nil, overdraftPeriod: BudgetPeriod? = nil,
        overdraftMicros: Int64 = 0, creditMicros: Int64 = 0, memo: String = ""
    ) {
        self.sequence = sequence
        self.kind = kind
        self.time = time
        self.tenantId = tenantId
        self.keyId = keyId
        self.tags = tags
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costMicros = costMicros
        self.estimateMicros = estimateMicros
        self.status = status
        self.retries = retries
        self.requestId = requestId
        self.reservationId = reservationId
        self.policyVersion = policyVersion
        self.price = price
        self.scopes = scopes
        self.drawsBalance = drawsBalance
        self.overdraftScope = overdraftScope
        self.overdraftPeriod = overdraftPeriod
        self.overdraftMicros = overdraftMicros
        self.creditMicros = creditMicros
        self.memo = memo
    }

    /// An event about a reservation, with its identifying fields filled in.
    public init(kind: LedgerEventKind, reservation: Reservation, time: Timestamp) {
        self.init(
            kind: kind, time: time, tenantId: reservation.tenantId, keyId: reservation.keyId, tags: reservation.tags,
            model: reservation.model, estimateMicros: reservation.estimateMicros, requestId: reservation.requestId,
            reservationId: reservation.id, policyVersion: reservation.policyVersion, price: reservation.price,
            scopes: reservation.scopes, drawsBalance: reservation.drawsBalance
        )
    }
}
