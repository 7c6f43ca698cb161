import PurserLMDB

/// The named LMDB databases of one data directory, and what each maps.
struct StoreDatabases {
    /// `schema`, `policy`, `outbox_next`, `expired_total` → small records.
    let meta: LMDBDatabase
    /// SHA-256 of a secret (32 bytes) → one flag byte (0 current, 1 previous) + key id.
    let keyHashes: LMDBDatabase
    /// Key id → `KeyPolicy`.
    let keys: LMDBDatabase
    /// Tenant id → `TenantRecord` (the tenant with its plan).
    let tenants: LMDBDatabase
    /// Tag → account-wide `TagPolicy`.
    let accountTags: LMDBDatabase
    /// Model → `ModelPrice`.
    let prices: LMDBDatabase
    /// `Scope.storageKey` → `ScopeState`.
    let scopes: LMDBDatabase
    /// Reservation id → `Reservation`.
    let reservations: LMDBDatabase
    /// Key id + 0x00 + request id → reservation id: the idempotency index of authorize.
    let requestIds: LMDBDatabase
    /// Tenant id + 0x00 + request id → the first answer to that credit.
    let credits: LMDBDatabase
    /// Big-endian deadline (ns) + reservation id → nothing: what the sweeper must look at next,
    /// in time order. An open reservation's deadline is its expiry; a finished one's, its purge.
    let deadlines: LMDBDatabase
    /// Big-endian sequence → `LedgerEvent`: the outbox the ledger drains.
    let outbox: LMDBDatabase

    static let count = 12

    /// Every database, for looking one up by name (journal replay).
    var all: [LMDBDatabase] {
        [meta, keyHashes, keys, tenants, accountTags, prices, scopes, reservations, requestIds, credits, deadlines, outbox]
    }

    init(environment: LMDBEnvironment) throws(LMDBError) {
        meta = try environment.openDatabase(named: "meta")
        keyHashes = try environment.openDatabase(named: "key_hashes")
        keys = try environment.openDatabase(named: "keys")
        tenants = try environment.openDatabase(named: "tenants")
        accountTags = try environment.openDatabase(named: "account_tags")
        prices = try environment.openDatabase(named: "prices")
        scopes = try environment.openDatabase(named: "scopes")
        reservations = try environment.openDatabase(named: "reservations")
        requestIds = try environment.openDatabase(named: "request_ids")
        credits = try environment.openDatabase(named: "credits")
        deadlines = try environment.openDatabase(named: "deadlines")
        outbox = try environment.openDatabase(named: "outbox")
    }
}

/// Keys of the `meta` database.
enum MetaKey {
    static let schema = Array("schema".utf8)
    static let policy = Array("policy".utf8)
    static let outboxNext = Array("outbox_next".utf8)
    static let expiredTotal = Array("expired_total".utf8)
    /// 16 random bytes drawn when the store is created; the journal's files carry them so that a
    /// journal is never replayed onto another store.
    static let storeIdentifier = Array("store_id".utf8)
}

/// Big-endian integers sort in numeric order as LMDB compares keys bytewise.
enum BigEndianKey {
    static func bytes(_ value: UInt64) -> [UInt8] {
        var writer = RecordWriter(capacity: MemoryLayout<UInt64>.size)
        writer.write(value)
        return writer.bytes
    }

    static func value(_ bytes: some Collection<UInt8>) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        return bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
