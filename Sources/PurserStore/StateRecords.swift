import PurserEngine
import PurserPolicy

// Counters, reservations and ledger events as stored in LMDB.

extension Scope {
    /// The LMDB key of this scope's state: a kind byte, then the ids separated by a 0x00 byte,
    /// which identifiers never contain.
    var storageKey: [UInt8] {
        var writer = RecordWriter(capacity: storageKeyCount)
        writeStorageKey(to: &writer)
        return writer.bytes
    }

    /// The length of `storageKey`, known without building it.
    var storageKeyCount: Int {
        switch self {
        case .key(let id), .tenant(let id), .tag(let id): return 1 + id.utf8.count
        case .tenantTag(let tenant, let tag): return 1 + tenant.utf8.count + 1 + tag.utf8.count
        }
    }

    /// Appends `storageKey` straight to `writer`: records hold their scopes' keys, and building
    /// each key as an array of its own first cost several allocations per scope.
    func writeStorageKey(to writer: inout RecordWriter) {
        switch self {
        case .key(let id):
            writer.write(UInt8(1))
            writer.writeUnprefixed(id)
        case .tenant(let id):
            writer.write(UInt8(2))
            writer.writeUnprefixed(id)
        case .tenantTag(let tenant, let tag):
            writer.write(UInt8(3))
            writer.writeUnprefixed(tenant)
            writer.write(UInt8(0))
            writer.writeUnprefixed(tag)
        case .tag(let tag):
            writer.write(UInt8(4))
            writer.writeUnprefixed(tag)
        }
    }

    init(storageKey bytes: [UInt8]) throws(RecordCorrupted) {
        guard let kind = bytes.first else { throw RecordCorrupted(record: "scope key", offset: 0) }
        let rest = bytes.dropFirst()
        func text(_ slice: ArraySlice<UInt8>) throws(RecordCorrupted) -> String {
            guard let string = slice.withUnsafeBufferPointer(RecordReader.validatedString) else {
                throw RecordCorrupted(record: "scope key", offset: 1)
            }
            return string
        }
        switch kind {
        case 1: self = .key(try text(rest))
        case 2: self = .tenant(try text(rest))
        case 3:
            guard let separator = rest.firstIndex(of: 0) else { throw RecordCorrupted(record: "scope key", offset: 1) }
            self = .tenantTag(tenant: try text(rest[..<separator]), tag: try text(rest[(separator + 1)...]))
        case 4: self = .tag(try text(rest))
        default: throw RecordCorrupted(record: "scope key", offset: 0)
        }
    }
}

extension RecordWriter {
    mutating func write(_ counter: PeriodCounter) {
        write(counter.periodIndex)
        write(counter.spentMicros)
        write(counter.reservedMicros)
    }

    mutating func write(_ scopes: [Scope]) {
        // The layout of `write(bytes:)` of each scope's `storageKey`.
        writeArray(scopes) { writer, scope in
            writer.write(UInt32(scope.storageKeyCount))
            scope.writeStorageKey(to: &writer)
        }
    }

    mutating func write(_ budget: RemainingBudget) {
        write(budget.scope)
        writeOptional(budget.period) { $0.write($1.rawValue) }
        write(budget.capMicros)
        write(budget.remainingMicros)
    }
}

extension RecordReader {
    mutating func readPeriodCounter() throws(RecordCorrupted) -> PeriodCounter {
        PeriodCounter(periodIndex: try readInt64(), spentMicros: try readInt64(), reservedMicros: try readInt64())
    }

    mutating func readScopes() throws(RecordCorrupted) -> [Scope] {
        try readArray { reader throws(RecordCorrupted) in try Scope(storageKey: try reader.readBytes()) }
    }

    mutating func readRemainingBudget() throws(RecordCorrupted) -> RemainingBudget {
        RemainingBudget(
            scope: try readString(),
            period: try readOptional { reader throws(RecordCorrupted) in try reader.readEnum(BudgetPeriod.self) },
            capMicros: try readInt64(),
            remainingMicros: try readInt64()
        )
    }

    mutating func readOptionalInt64() throws(RecordCorrupted) -> Int64? {
        try readOptional { reader throws(RecordCorrupted) in try reader.readInt64() }
    }
}

extension ScopeState: StoredRecord {
    static var recordName: String { "scope state" }

    func write(to writer: inout RecordWriter) {
        writer.write(total)
        writer.write(month)
        writer.write(day)
        writer.write(inflightCount)
        writer.write(requestsTheoreticalArrivalNanoseconds)
        writer.write(tokensTheoreticalArrivalNanoseconds)
        writer.write(balanceMicros)
        writer.write(balanceReservedMicros)
        writer.write(creditedMicros)
    }

    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        self.init(
            total: try reader.readPeriodCounter(),
            month: try reader.readPeriodCounter(),
            day: try reader.readPeriodCounter(),
            inflightCount: try reader.readInt64(),
            requestsTheoreticalArrivalNanoseconds: try reader.readInt64(),
            tokensTheoreticalArrivalNanoseconds: try reader.readInt64(),
            balanceMicros: try reader.readInt64(),
            balanceReservedMicros: try reader.readInt64(),
            creditedMicros: try reader.readInt64()
        )
    }
}

extension Reservation: StoredRecord {
    static var recordName: String { "reservation" }
    static var encodedCapacityEstimate: Int { 512 }

    func write(to writer: inout RecordWriter) {
        writer.write(id)
        writer.write(requestId)
        writer.write(keyId)
        writer.write(tenantId)
        writer.write(model)
        writer.write(tags)
        writer.write(estimateMicros)
        writer.write(estimateTokens)
        writer.writeOptional(price) { $0.write($1) }
        writer.write(scopes)
        writer.write(drawsBalance)
        writer.write(reservedIndexes.day)
        writer.write(reservedIndexes.month)
        writer.write(createdAt)
        writer.write(expiresAt)
        writer.write(state.rawValue)
        writer.writeOptional(settlement) { writer, settlement in
            writer.write(settlement.costMicros)
            writer.write(settlement.inputTokens)
            writer.write(settlement.outputTokens)
            writer.write(settlement.status.rawValue)
            writer.write(settlement.retries)
            writer.write(settlement.settledAt)
            writer.write(settlement.overdraftMicros)
            writer.write(settlement.late)
        }
        writer.write(purgeAt)
        writer.write(policyVersion)
        writer.writeOptional(lowestRemaining) { $0.write($1) }
        writer.writeOptional(requestsRemaining) { $0.write($1) }
        writer.writeOptional(tokensRemaining) { $0.write($1) }
    }

    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        let id = try reader.readString()
        let requestId = try reader.readString()
        let keyId = try reader.readString()
        let tenantId = try reader.readString()
        let model = try reader.readString()
        let tags = try reader.readStrings()
        let estimateMicros = try reader.readInt64()
        let estimateTokens = try reader.readInt64()
        let price = try reader.readOptional { reader throws(RecordCorrupted) in try reader.readModelPrice() }
        let scopes = try reader.readScopes()
        let drawsBalance = try reader.readBool()
        let reservedIndexes = PeriodIndexes(day: try reader.readInt64(), month: try reader.readInt64())
        let createdAt = try reader.readTimestamp()
        let expiresAt = try reader.readTimestamp()
        guard let state = ReservationState(rawValue: try reader.readUInt8()) else {
            throw RecordCorrupted(record: Self.recordName, offset: 0)
        }
        let settlement = try reader.readOptional { reader throws(RecordCorrupted) in
            Settlement(
                costMicros: try reader.readInt64(), inputTokens: try reader.readInt64(), outputTokens: try reader.readInt64(),
                status: try reader.readEnum(SettleStatus.self), retries: try reader.readInt64(), settledAt: try reader.readTimestamp(),
                overdraftMicros: try reader.readInt64(), late: try reader.readBool()
            )
        }
        self.init(
            id: id, requestId: requestId, keyId: keyId, tenantId: tenantId, model: model, tags: tags,
            estimateMicros: estimateMicros, estimateTokens: estimateTokens, price: price, scopes: scopes,
            drawsBalance: drawsBalance, reservedIndexes: reservedIndexes, createdAt: createdAt, expiresAt: expiresAt,
            state: state, settlement: settlement, purgeAt: try reader.readTimestamp(), policyVersion: try reader.readString(),
            lowestRemaining: try reader.readOptional { reader throws(RecordCorrupted) in try reader.readRemainingBudget() },
            requestsRemaining: try reader.readOptionalInt64(), tokensRemaining: try reader.readOptionalInt64()
        )
    }
}

extension LedgerEvent: StoredRecord {
    static var recordName: String { "ledger event" }
    static var encodedCapacityEstimate: Int { 512 }

    func write(to writer: inout RecordWriter) {
        writer.write(sequence)
        writer.write(kind.rawValue)
        writer.write(time)
        writer.write(tenantId)
        writer.write(keyId)
        writer.write(tags)
        writer.write(model)
        writer.write(inputTokens)
        writer.write(outputTokens)
        writer.write(costMicros)
        writer.write(estimateMicros)
        writer.writeOptional(status) { $0.write($1.rawValue) }
        writer.write(retries)
        writer.write(requestId)
        writer.write(reservationId)
        writer.write(policyVersion)
        writer.writeOptional(price) { $0.write($1) }
        writer.write(scopes)
        writer.write(drawsBalance)
        writer.writeOptional(overdraftScope) { $0.write($1) }
        writer.writeOptional(overdraftPeriod) { $0.write($1.rawValue) }
        writer.write(overdraftMicros)
        writer.write(creditMicros)
        writer.write(memo)
    }

    init(reading reader: inout RecordReader) throws(RecordCorrupted) {
        self.init(
            sequence: try reader.readUInt64(),
            kind: try reader.readEnum(LedgerEventKind.self),
            time: try reader.readTimestamp(),
            tenantId: try reader.readString(),
            keyId: try reader.readString(),
            tags: try reader.readStrings(),
            model: try reader.readString(),
            inputTokens: try reader.readInt64(),
            outputTokens: try reader.readInt64(),
            costMicros: try reader.readInt64(),
            estimateMicros: try reader.readInt64(),
            status: try reader.readOptional { reader throws(RecordCorrupted) in try reader.readEnum(SettleStatus.self) },
            retries: try reader.readInt64(),
            requestId: try reader.readString(),
            reservationId: try reader.readString(),
            policyVersion: try reader.readString(),
            price: try reader.readOptional { reader throws(RecordCorrupted) in try reader.readModelPrice() },
            scopes: try reader.readScopes(),
            drawsBalance: try reader.readBool(),
            overdraftScope: try reader.readOptional { reader throws(RecordCorrupted) in try reader.readString() },
            overdraftPeriod: try reader.readOptional { reader throws(RecordCorrupted) in try reader.readEnum(BudgetPeriod.self) },
            overdraftMicros: try reader.readInt64(),
            creditMicros: try reader.readInt64(),
            memo: try reader.readString()
        )
    }
}
