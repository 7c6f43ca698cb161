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
    let keys: [([UInt8], [UInt8])]
    /// SHA-256 of a secret → flag byte (0 current, 1 previous) + key id.
    let keyHashes: [([UInt8], [UInt8])]
    /// Tenant id → `TenantRecord`.
    let tenants: [([UInt8], [UInt8])]
    /// Tag → `TagPolicy`.
    let accountTags: [([UInt8], [UInt8])]
    /// Model → `ModelPrice`.
    let prices: [([UInt8], [UInt8])]
    /// Everything but the load time, which the transaction sets.
    let metadata: PolicyMetadata

    public init(_ policy: Policy, version: String) {
        var keys: [([UInt8], [UInt8])] = []
        var keyHashes: [([UInt8], [UInt8])] = []
        keys.reserveCapacity(policy.keys.count)
        keyHashes.reserveCapacity(policy.keys.count)
        for key in policy.keys {
            keys.append((Array(key.id.utf8), key.encodedRecord()))
            keyHashes.append((key.sha256.bytes, [0] + Array(key.id.utf8)))
            if let previous = key.previousSHA256 {
                keyHashes.append((previous.bytes, [1] + Array(key.id.utf8)))
            }
        }
        // The parser guarantees every tenant's plan exists.
        let tenants = policy.tenants.values.map { tenant in
            (Array(tenant.id.utf8), TenantRecord(tenant: tenant, plan: policy.plans[tenant.plan]!).encodedRecord())
        }
        self.keys = StateStore.inKeyOrder(keys)
        self.keyHashes = StateStore.inKeyOrder(keyHashes)
        self.tenants = StateStore.inKeyOrder(tenants)
        self.accountTags = StateStore.inKeyOrder(policy.tags.map { (Array($0.key.utf8), $0.value.encodedRecord()) })
        self.prices = StateStore.inKeyOrder(policy.prices.map { (Array($0.key.utf8), $0.value.encodedRecord()) })
        self.metadata = PolicyMetadata(
            version: version, defaults: policy.defaults, loadedAt: Timestamp(nanosecondsSinceEpoch: 0),
            plansCount: Int64(policy.plans.count), tenantsCount: Int64(policy.tenants.count), keysCount: Int64(policy.keys.count)
        )
    }
}

extension StoreDatabases {
    /// Each policy database with the records `prepared` wants in it, always in this order.
    func policyRecords(of prepared: PreparedPolicy) -> [(database: LMDBDatabase, records: [([UInt8], [UInt8])])] {
        [(keys, prepared.keys), (keyHashes, prepared.keyHashes), (tenants, prepared.tenants), (accountTags, prepared.accountTags), (prices, prepared.prices)]
    }
}
