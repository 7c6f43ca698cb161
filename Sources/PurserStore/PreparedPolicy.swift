import PurserLMDB
import PurserPolicy

/// A policy's LMDB records, encoded and in key order: the half of a policy load that needs no
/// transaction.
///
/// Why apart: the load's write transaction runs on the writer's event loop, and every request
/// waits while it does. Encoding 200,000 records and sorting the key hashes (random in file
/// order) took a large part of a 100,000-key load; built here, on the reloader's queue, the loop
/// only compares and writes.
public struct PreparedPolicy: Sendable {
    /// Key id → `KeyPolicy`.
    let keys: SortedRecords
    /// SHA-256 of a secret → flag byte (0 current, 1 previous) + key id.
    let keyHashes: SortedRecords
    /// Tenant id → `TenantRecord`.
    let tenants: SortedRecords
    /// Tag → `TagPolicy`.
    let accountTags: SortedRecords
    /// Model → `ModelPrice`.
    let prices: SortedRecords
    /// Everything but the load time, which the transaction sets.
    let metadata: PolicyMetadata

    public init(_ policy: Policy, version: String) {
        var keys = SortedRecords()
        var keyHashes = SortedRecords()
        for key in policy.keys {
            let id = Array(key.id.utf8)
            keys.append(key: id, value: key.encodedRecord())
            keyHashes.append(key: key.sha256.bytes, value: CollectionOfOne(0) + id)
            if let previous = key.previousSHA256 {
                keyHashes.append(key: previous.bytes, value: CollectionOfOne(1) + id)
            }
        }
        keys.sort()
        keyHashes.sort()
        self.keys = keys
        self.keyHashes = keyHashes
        // The parser guarantees every tenant's plan exists.
        self.tenants = SortedRecords(policy.tenants.values.map { tenant in
            (Array(tenant.id.utf8), TenantRecord(tenant: tenant, plan: policy.plans[tenant.plan]!).encodedRecord())
        })
        self.accountTags = SortedRecords(policy.tags.map { (Array($0.key.utf8), $0.value.encodedRecord()) })
        self.prices = SortedRecords(policy.prices.map { (Array($0.key.utf8), $0.value.encodedRecord()) })
        self.metadata = PolicyMetadata(
            version: version, defaults: policy.defaults, loadedAt: Timestamp(nanosecondsSinceEpoch: 0),
            plansCount: Int64(policy.plans.count), tenantsCount: Int64(policy.tenants.count), keysCount: Int64(policy.keys.count)
        )
    }
}

extension StoreDatabases {
    /// Each policy database with the records `prepared` wants in it, always in this order.
    func policyRecords(of prepared: PreparedPolicy) -> [(database: LMDBDatabase, records: SortedRecords)] {
        [(keys, prepared.keys), (keyHashes, prepared.keyHashes), (tenants, prepared.tenants), (accountTags, prepared.accountTags), (prices, prepared.prices)]
    }
}
