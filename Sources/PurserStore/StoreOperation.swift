import PurserEngine
import PurserPolicy

/// One message for the store. A batch of them runs in one LMDB write transaction.
public enum StoreOperation: Sendable {
    case authorize(secret: String, request: AuthorizeRequest)
    case settle(SettleRequest)
    case release(reservationId: String)
    case credit(tenantId: String, micros: Int64, memo: String, requestId: String)
}

/// The answer to one `StoreOperation`.
public enum StoreOutcome: Hashable, Sendable {
    case authorized(Decision)
    case settled(SettleAnswer)
    case released(ReleaseAnswer)
    case credited(CreditAnswer)
}

public enum SettleAnswer: Hashable, Sendable {
    /// `replayed` is true when this settle repeats one already applied: nothing more was charged.
    case settled(reservationId: String, settlement: Settlement, replayed: Bool)
    case unknownReservation
    case badRequest(BadRequest)
}

public enum ReleaseAnswer: Hashable, Sendable {
    /// `state` is the reservation's state after the call: `released`, or how it had already ended.
    case released(reservationId: String, state: ReservationState, replayed: Bool)
    case unknownReservation
}

public enum CreditAnswer: Hashable, Sendable {
    case credited(tenantId: String, balanceMicros: Int64, creditedMicros: Int64, replayed: Bool)
    case unknownTenant
    case badRequest(BadRequest)
}

/// What one `sweep` did.
public struct SweepSummary: Hashable, Sendable {
    public var expiredCount: Int
    public var purgedCount: Int
    /// True when the batch limit stopped the sweep with due entries left.
    public var more: Bool

    public init(expiredCount: Int, purgedCount: Int, more: Bool) {
        self.expiredCount = expiredCount
        self.purgedCount = purgedCount
        self.more = more
    }
}

/// Where a policy load left the store.
public struct PolicyLoadSummary: Hashable, Sendable {
    public var version: String
    public var plansCount: Int
    public var tenantsCount: Int
    public var keysCount: Int
    /// Policy records written or deleted because they differ from the policy in force before:
    /// 0 when the same file is loaded again.
    public var recordsChangedCount: Int

    public init(version: String, plansCount: Int, tenantsCount: Int, keysCount: Int, recordsChangedCount: Int) {
        self.version = version
        self.plansCount = plansCount
        self.tenantsCount = tenantsCount
        self.keysCount = keysCount
        self.recordsChangedCount = recordsChangedCount
    }
}
