import PurserEngine
import PurserPolicy

// The policy as stored in LMDB: one record per key, tenant (with its plan), account tag and
// price, so that a decision reads only what it needs and a reload replaces them all in one
// write transaction.

extension RecordWriter {
    mutating func write(_ budgets: [Budget]) {
        writeArray(budgets) { writer, budget in
            writer.write(budget.period.rawValue)
            writer.write(budget.capMicros)
        }
    }

    mutating func write(_ limits: RateLimits) {
        writeOptional(limits.requestsPerMinute) { $0.write($1) }
        writeOptional(limits.tokensPerMinute) { $0.write($1) }
        writeOptional(limits.inflightMax) { $0.write($1) }
    }

    mutating func write(_ patterns: [ModelPattern]) {
        write(patterns.map(\.pattern))
    }

    mutating func write(_ price: ModelPrice) {
        write(price.inputMicrosPerMillionTokens)
        write(price.outputMicrosPerMillionTokens)
    }

    mutating func write(_ timestamp: Timestamp) {
        write(timestamp.nanosecondsSinceEpoch)
    }
}

extension RecordReader {
    mutating func readBudgets() throws(RecordCorrupted) -> [Budget] {
        try readArray { reader throws(RecordCorrupted) in
            Budget(period: try reader.readEnum(BudgetPeriod.self), capMicros: try reader.readInt64())
        }
    }

    mutating func readRateLimits() throws(RecordCorrupted) -> RateLimits {
        RateLimits(
            requestsPerMinute: try readOptional { reader throws(RecordCorrupted) in try reader.readInt64() },
            tokensPerMinute: try readOptional { reader throws(RecordCorrupted) in try reader.readInt64() },
            inflightMax: try readOptional { reader throws(RecordCorrupted) in try reader.readInt64() }
        )
    }

    mutating func readModelPatterns() throws(RecordCorrupted) -> [ModelPattern] {
        var patterns: [ModelPattern] = []
        for text in try readStrings() {
            // Stored patterns passed validation at load; failing to parse one now is corruption.
            guard let pattern = try? ModelPattern(text) else { throw RecordCorrupted(record: "model pattern", offset: 0) }
            patterns.append(pattern)
        }
        return patterns
    }

    mutating func readModelPrice() throws(RecordCorrupted) -> ModelPrice {
        ModelPrice(inputMicrosPerMillionTokens: try readInt64(), outputMicrosPerMillionTokens: try readInt64())
    }

    mutating func readTimestamp() throws(RecordCorrupted) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: try readInt64())
    }
}

extension KeyPolicy: StoredRecord {
    static var recordName: String { "key" }

    func write(to writer: inout RecordWriter) {
        writer.write(id)
        writer.write(tenant)
        writer.write(bytes: sha256.bytes)
        writer.writeOptional(defaultTag) { $0.write($1) }
        writer.write(rateLimits)
        writer.write(budgets)
        writer.writeOptional(models) { $0.write($1) }
        writer.writeOptional(expiresAt) { $0.write($1) }
        writer.write(disabled)
        writer.writeOptional(previousSHA256) { $0.write(bytes: $1.bytes) }
        writer.writeOptional(previousValidUntil) { $0.write($1) }
    }

    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        func hash(_ bytes: [UInt8]) throws(RecordCorrupted) -> KeyHash {
            guard let hash = KeyHash(bytes: bytes) else { throw RecordCorrupted(record: "key hash", offset: 0) }
            return hash
        }
        let id = try reader.readString()
        let tenant = try reader.readString()
        let sha256 = try hash(try reader.readBytes())
        let defaultTag = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readString() }
        let rateLimits = try reader.readRateLimits()
        let budgets = try reader.readBudgets()
        let models = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readModelPatterns() }
        let expiresAt = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readTimestamp() }
        let disabled = try reader.readBool()
        let previousBytes = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readBytes() }
        let previousValidUntil = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readTimestamp() }
        self.init(
            id: id, tenant: tenant, sha256: sha256, defaultTag: defaultTag, rateLimits: rateLimits, budgets: budgets,
            models: models, expiresAt: expiresAt, disabled: disabled,
            previousSHA256: try previousBytes.map { bytes throws(RecordCorrupted) in try hash(bytes) },
            previousValidUntil: previousValidUntil
        )
    }
}

/// A tenant stored together with its plan, so an authorize reads one record for both.
struct TenantRecord: StoredRecord, Hashable {
    static var recordName: String { "tenant" }
    var tenant: Tenant
    var plan: Plan

    func write(to writer: inout RecordWriter) {
        writer.write(tenant.id)
        writer.write(tenant.name)
        writer.write(tenant.plan)
        writer.write(tenant.budgets)
        writer.write(tenant.prepaid)
        writer.writeOptional(tenant.rateLimits) { $0.write($1) }
        writer.writeArray(tenant.tags.sorted { $0.key < $1.key }) { writer, entry in
            writer.write(entry.key)
            writer.write(entry.value.budgets)
        }
        writer.write(plan.id)
        writer.write(plan.models)
        writer.write(plan.rateLimits)
        writer.write(plan.budgets)
    }

    init(tenant: Tenant, plan: Plan) {
        self.tenant = tenant
        self.plan = plan
    }

    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        let id = try reader.readString()
        let name = try reader.readString()
        let planId = try reader.readString()
        let budgets = try reader.readBudgets()
        let prepaid = try reader.readBool()
        let rateLimits = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readRateLimits() }
        let tagEntries = try reader.readArray { reader throws(RecordCorrupted) in
            (try reader.readString(), TagPolicy(budgets: try reader.readBudgets()))
        }
        tenant = Tenant(
            id: id, name: name, plan: planId, budgets: budgets, prepaid: prepaid, rateLimits: rateLimits,
            tags: Dictionary(tagEntries, uniquingKeysWith: { first, _ in first })
        )
        plan = try DecodedPlanCache.shared.plan(readingToEndOf: &reader)
    }
}

extension TagPolicy: StoredRecord {
    static var recordName: String { "tag" }
    func write(to writer: inout RecordWriter) { writer.write(budgets) }
    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        self.init(budgets: try reader.readBudgets())
    }
}

extension ModelPrice: StoredRecord {
    static var recordName: String { "price" }
    func write(to writer: inout RecordWriter) { writer.write(self) }
    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        self = try reader.readModelPrice()
    }
}

/// Facts about the policy in force, stored beside it so every process sees the same version.
public struct PolicyMetadata: StoredRecord, Hashable, Sendable {
    static var recordName: String { "policy metadata" }
    /// Hex SHA-256 of the policy file's bytes: the policy version the ledger records.
    public var version: String
    public var defaults: PolicyDefaults
    public var loadedAt: Timestamp
    public var plansCount: Int64
    public var tenantsCount: Int64
    public var keysCount: Int64

    func write(to writer: inout RecordWriter) {
        writer.write(version)
        writer.write(defaults.reservationTTLSeconds)
        writer.write(defaults.reservationRetentionSeconds)
        writer.writeOptional(defaults.ledgerRetentionSeconds) { $0.write($1) }
        writer.write(loadedAt)
        writer.write(plansCount)
        writer.write(tenantsCount)
        writer.write(keysCount)
    }

    init(version: String, defaults: PolicyDefaults, loadedAt: Timestamp, plansCount: Int64, tenantsCount: Int64, keysCount: Int64) {
        self.version = version
        self.defaults = defaults
        self.loadedAt = loadedAt
        self.plansCount = plansCount
        self.tenantsCount = tenantsCount
        self.keysCount = keysCount
    }

    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        version = try reader.readString()
        defaults = PolicyDefaults(
            reservationTTLSeconds: try reader.readInt64(), reservationRetentionSeconds: try reader.readInt64(),
            ledgerRetentionSeconds: try reader.readOptionalInt64()
        )
        loadedAt = try reader.readTimestamp()
        plansCount = try reader.readInt64()
        tenantsCount = try reader.readInt64()
        keysCount = try reader.readInt64()
    }
}
