@testable import PurserStore
import PurserEngine
import PurserPolicy
import Testing

/// The LMDB record encodings are an on-disk format: a data directory written by one build must be
/// read by the next. These pin the exact bytes of every record kind (captured from the encoder
/// before its buffers were reworked for speed) and check that each decodes back to the same value.
@Suite struct RecordFormatTests {
    static let hash = KeyHash(bytes: Array(0..<32))!
    static let previousHash = KeyHash(bytes: Array(100..<132))!
    static let time = Timestamp(secondsSinceEpoch: 1_795_348_800)

    static let key = KeyPolicy(
        id: "k-ü1", tenant: "acme", sha256: hash, defaultTag: "dev", rateLimits: RateLimits(requestsPerMinute: 60, inflightMax: 4),
        budgets: [Budget(period: .day, capMicros: 5_000_000), Budget(period: .total, capMicros: -1)],
        models: [try! ModelPattern("gpt-*"), try! ModelPattern("claude-[a-z]?")], expiresAt: time.adding(seconds: 3_600),
        disabled: false, previousSHA256: previousHash, previousValidUntil: time.adding(seconds: 60)
    )

    static let tenantRecord = TenantRecord(
        tenant: Tenant(
            id: "acme", name: "Acme ☃", plan: "pro", budgets: [Budget(period: .month, capMicros: 9)], prepaid: true,
            rateLimits: RateLimits(tokensPerMinute: 1_000),
            tags: ["prod": TagPolicy(budgets: [Budget(period: .day, capMicros: 7)]), "dev": TagPolicy(budgets: [])]
        ),
        plan: Plan(id: "pro", models: [try! ModelPattern("*")], rateLimits: RateLimits(requestsPerMinute: 10), budgets: [])
    )

    static let reservation = Reservation(
        id: "rsv_0123456789abcdef0123456789abcdef", requestId: "req-1", keyId: "k-ü1", tenantId: "acme", model: "gpt-5.4",
        tags: ["dev", "prod"], estimateMicros: 1_000, estimateTokens: 12, price: ModelPrice(inputMicrosPerMillionTokens: 3, outputMicrosPerMillionTokens: 4),
        scopes: [.key("k-ü1"), .tenant("acme"), .tenantTag(tenant: "acme", tag: "prod"), .tag("dev")], drawsBalance: true,
        reservedIndexes: PeriodIndexes(day: 20_000, month: 670), createdAt: time, expiresAt: time.adding(seconds: 600), state: .settled,
        settlement: Settlement(
            costMicros: 900, inputTokens: 1, outputTokens: 2, status: .cancelled, retries: 3, settledAt: time.adding(seconds: 5),
            overdraftMicros: 0, late: true
        ),
        purgeAt: time.adding(seconds: 86_400), policyVersion: "v1",
        lowestRemaining: RemainingBudget(scope: "tenant:acme", period: .month, capMicros: 9, remainingMicros: -5),
        requestsRemaining: 59, tokensRemaining: nil
    )

    static let state = ScopeState(
        total: PeriodCounter(periodIndex: 0, spentMicros: 1, reservedMicros: 2), month: PeriodCounter(periodIndex: 670, spentMicros: 3, reservedMicros: 4),
        day: PeriodCounter(periodIndex: 20_000, spentMicros: -5, reservedMicros: 6), inflightCount: 7, requestsTheoreticalArrivalNanoseconds: 8,
        tokensTheoreticalArrivalNanoseconds: Int64.max, balanceMicros: Int64.min, balanceReservedMicros: 11, creditedMicros: 12
    )

    static let metadata = PolicyMetadata(
        version: "abc", defaults: PolicyDefaults(reservationTTLSeconds: 600, reservationRetentionSeconds: 86_400, ledgerRetentionSeconds: 30),
        loadedAt: time, plansCount: 1, tenantsCount: 2, keysCount: 3
    )

    static let event = LedgerEvent(
        sequence: 42, kind: .overdraft, time: time, tenantId: "acme", keyId: "k-ü1", tags: ["dev"], model: "gpt-5.4", inputTokens: 1,
        outputTokens: 2, costMicros: 3, estimateMicros: 4, status: .ok, retries: 5, requestId: "req-1", reservationId: "rsv_x",
        policyVersion: "v1", price: nil, scopes: [.key("k-ü1"), .tenant("acme")], drawsBalance: false, overdraftScope: "tenant:acme",
        overdraftPeriod: .day, overdraftMicros: 6, creditMicros: 7, memo: "memo"
    )

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined()
    }

    @Test func keyRecord() throws {
        let bytes = Self.key.encodedRecord()
        #expect(Self.hex(bytes) == Golden.key)
        #expect(try KeyPolicy(record: bytes) == Self.key)
    }

    @Test func tenantRecord() throws {
        let bytes = Self.tenantRecord.encodedRecord()
        #expect(Self.hex(bytes) == Golden.tenant)
        #expect(try TenantRecord(record: bytes) == Self.tenantRecord)
    }

    @Test func reservationRecord() throws {
        let bytes = Self.reservation.encodedRecord()
        #expect(Self.hex(bytes) == Golden.reservation)
        #expect(try Reservation(record: bytes) == Self.reservation)
    }

    @Test func scopeStateRecord() throws {
        let bytes = Self.state.encodedRecord()
        #expect(Self.hex(bytes) == Golden.state)
        #expect(try ScopeState(record: bytes) == Self.state)
    }

    @Test func policyMetadataRecord() throws {
        let bytes = Self.metadata.encodedRecord()
        #expect(Self.hex(bytes) == Golden.metadata)
        #expect(try PolicyMetadata(record: bytes) == Self.metadata)
    }

    @Test func ledgerEventRecord() throws {
        let bytes = Self.event.encodedRecord()
        #expect(Self.hex(bytes) == Golden.event)
        #expect(try LedgerEvent(record: bytes) == Self.event)
    }

    @Test func scopeStorageKeys() throws {
        let scopes: [Scope] = [.key("k-ü1"), .tenant("acme"), .tenantTag(tenant: "acme", tag: "prod"), .tag("dev")]
        #expect(scopes.map { Self.hex($0.storageKey) } == ["016b2dc3bc31", "0261636d65", "0361636d650070726f64", "04646576"])
        for scope in scopes {
            #expect(try Scope(storageKey: scope.storageKey) == scope)
        }
    }

    /// Index keys are on-disk formats too.
    @Test func indexKeys() {
        #expect(Self.hex(BigEndianKey.bytes(0x0102_0304_0506_0708)) == "0102030405060708")
        #expect(Self.hex(OperationContext.requestIdKey(keyId: "k-ü1", requestId: "r1")) == "6b2dc3bc31007231")
        #expect(Self.hex(OperationContext.deadlineKey(Self.time, "rsv_1")) == "18ea5c38afec80007273765f31")
    }

    /// Tenant records share decoded plans by their bytes: a plan changed under the same id, more
    /// plans than the cache holds, and a record damaged after a cached plan all decode exactly as
    /// without the cache.
    @Test func tenantRecordsDecodeTheirOwnPlans() throws {
        func record(plan: Int, models: String) -> TenantRecord {
            TenantRecord(
                tenant: Tenant(id: "t\(plan)", name: "T", plan: "p\(plan % 3)"),
                plan: Plan(id: "p\(plan % 3)", models: [try! ModelPattern(models)], rateLimits: RateLimits(requestsPerMinute: Int64(plan)))
            )
        }
        let records = (0..<(DecodedPlanCache.entriesCountMax * 2 + 3)).flatMap { plan in
            [record(plan: plan, models: "gpt-*"), record(plan: plan, models: "claude-*")]
        }
        for _ in 0..<3 {
            for expected in records {
                #expect(try TenantRecord(record: expected.encodedRecord()) == expected)
            }
        }
        let cached = records[0].encodedRecord()
        _ = try TenantRecord(record: cached)
        #expect(throws: RecordCorrupted.self) { try TenantRecord(record: cached + [0]) }
        #expect(throws: RecordCorrupted.self) { try TenantRecord(record: Array(cached.dropLast())) }
    }

    /// A truncated or extended record is reported as corrupted, never trapped on or half-read.
    @Test func damagedRecordsAreCorrupted() {
        let bytes = Self.reservation.encodedRecord()
        for length in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: RecordCorrupted.self) { try Reservation(record: Array(bytes.prefix(length))) }
        }
        #expect(throws: RecordCorrupted.self) { try Reservation(record: bytes + [0]) }
        var unknownFormat = Self.state.encodedRecord()
        unknownFormat[0] = 2
        #expect(throws: RecordCorrupted.self) { try ScopeState(record: unknownFormat) }
        // A string field holding invalid UTF-8 (0xff) is corruption, not a repaired string.
        var metadataBytes = Self.metadata.encodedRecord()
        metadataBytes[5] = 0xff
        #expect(throws: RecordCorrupted.self) { try PolicyMetadata(record: metadataBytes) }
    }
}

/// Hex of the records above as the encoder wrote them before it was reworked.
private enum Golden {
    static let key = "01000000056b2dc3bc310000000461636d6500000020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f010000000364657601000000000000003c00010000000000000004000000020000000364617900000000004c4b4000000005746f74616cffffffffffffffff0100000002000000056770742d2a0000000d636c617564652d5b612d7a5d3f0118ea5f7ee0a520000001000000206465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182830118ea5c46a833d800"
    static let tenant = "010000000461636d650000000841636d6520e298830000000370726f00000001000000056d6f6e746800000000000000090101000100000000000003e8000000000200000003646576000000000000000470726f64000000010000000364617900000000000000070000000370726f00000001000000012a01000000000000000a000000000000"
    static let reservation = "01000000247273765f3031323334353637383961626364656630313233343536373839616263646566000000057265712d31000000056b2dc3bc310000000461636d65000000076770742d352e3400000002000000036465760000000470726f6400000000000003e8000000000000000c01000000000000000300000000000000040000000400000006016b2dc3bc31000000050261636d650000000a0361636d650070726f640000000404646576010000000000004e20000000000000029e18ea5c38afec800018ea5cc462b5f00001010000000000000384000000000000000100000000000000020000000963616e63656c6c6564000000000000000318ea5c39d9f2720000000000000000000118eaaacd413b8000000000027631010000000b74656e616e743a61636d6501000000056d6f6e74680000000000000009fffffffffffffffb01000000000000003b00"
    static let state = "01000000000000000000000000000000010000000000000002000000000000029e000000000000000300000000000000040000000000004e20fffffffffffffffb0000000000000006000000000000000700000000000000087fffffffffffffff8000000000000000000000000000000b000000000000000c"
    static let metadata = "01000000036162630000000000000258000000000001518001000000000000001e18ea5c38afec8000000000000000000100000000000000020000000000000003"
    static let event = "01000000000000002a000000096f766572647261667418ea5c38afec80000000000461636d65000000056b2dc3bc310000000100000003646576000000076770742d352e34000000000000000100000000000000020000000000000003000000000000000401000000026f6b0000000000000005000000057265712d31000000057273765f78000000027631000000000200000006016b2dc3bc31000000050261636d6500010000000b74656e616e743a61636d65010000000364617900000000000000060000000000000007000000046d656d6f"
}
