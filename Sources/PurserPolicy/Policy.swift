/// A validated policy: the complete, immutable description of who may spend what.
///
/// Values of this type come from `PolicyParser`, which has already checked every cross-reference
/// and limit, so the engine and the store can rely on them without re-validating.
public struct Policy: Hashable, Sendable {
    public var version: Int
    public var defaults: PolicyDefaults
    /// Keyed by exact model name.
    public var prices: [String: ModelPrice]
    public var plans: [String: Plan]
    public var tenants: [String: Tenant]
    /// In file order.
    public var keys: [KeyPolicy]
    /// Account-wide tag budgets, across every tenant.
    public var tags: [String: TagPolicy]

    public init(
        version: Int = 1,
        defaults: PolicyDefaults = PolicyDefaults(),
        prices: [String: ModelPrice] = [:],
        plans: [String: Plan] = [:],
        tenants: [String: Tenant] = [:],
        keys: [KeyPolicy] = [],
        tags: [String: TagPolicy] = [:]
    ) {
        self.version = version
        self.defaults = defaults
        self.prices = prices
        self.plans = plans
        self.tenants = tenants
        self.keys = keys
        self.tags = tags
    }
}

/// Settings under `defaults:`.
public struct PolicyDefaults: Hashable, Sendable {
    /// Unsettled reservations are released after this (`reservation_ttl`, default 10m).
    public var reservationTTLSeconds: Int64
    /// How long a finished or expired reservation is remembered (`reservation_retention`, default
    /// 24h): within it, a retried settle returns the first result and a late settle is still charged.
    public var reservationRetentionSeconds: Int64
    /// How long ledger events are kept in SQLite (`ledger_retention`); `nil` keeps them forever.
    /// Daily rollups are kept regardless, so usage and invoices stay exact after pruning.
    public var ledgerRetentionSeconds: Int64?
    /// What authorize answers when the store cannot (`on_store_error`): deny (the default) or allow
    /// without counting.
    public var onStoreError: StoreErrorPolicy

    public init(
        reservationTTLSeconds: Int64 = 600, reservationRetentionSeconds: Int64 = 86_400, ledgerRetentionSeconds: Int64? = nil,
        onStoreError: StoreErrorPolicy = .failClosed
    ) {
        self.reservationTTLSeconds = reservationTTLSeconds
        self.reservationRetentionSeconds = reservationRetentionSeconds
        self.ledgerRetentionSeconds = ledgerRetentionSeconds
        self.onStoreError = onStoreError
    }
}

/// `defaults.on_store_error`.
public enum StoreErrorPolicy: String, CaseIterable, Hashable, Sendable {
    /// Authorize answers `unavailable` (503): nothing is allowed that cannot be counted.
    case failClosed = "fail_closed"
    /// Authorize answers allowed, with no reservation: the request is not counted against any cap.
    /// For operators who would rather overspend than refuse service while the disk is full.
    case failOpen = "fail_open"
}
