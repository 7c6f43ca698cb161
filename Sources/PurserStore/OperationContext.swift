import PurserEngine
import PurserLMDB
import PurserPolicy

/// One write transaction's view of the store: loads the records an operation needs, asks the
/// pure engine what to do, and writes what the engine returned. It decides nothing itself.
///
/// A class because it remembers, for the rest of its transaction, the policy metadata: no
/// operation of a batch changes the policy, and reading it once per operation was a lookup and a
/// decode each time.
final class OperationContext {
    let transaction: LMDBTransaction
    let databases: StoreDatabases
    let makeReservationId: @Sendable () -> String
    let now: Timestamp
    /// Set while the store refuses new reservations (`StoreOptions.mapHeadroomPercent`): why.
    let refusedReservationsReason: String?
    private let policyMetadataCache: PolicyMetadataCache
    /// Nil until first read in this transaction; then the record's metadata (nil if absent).
    private var policyMetadataInTransaction: PolicyMetadata??

    init(
        transaction: LMDBTransaction, databases: StoreDatabases, policyMetadataCache: PolicyMetadataCache,
        makeReservationId: @escaping @Sendable () -> String, now: Timestamp, refusedReservationsReason: String? = nil
    ) {
        self.refusedReservationsReason = refusedReservationsReason
        self.transaction = transaction
        self.databases = databases
        self.policyMetadataCache = policyMetadataCache
        self.makeReservationId = makeReservationId
        self.now = now
    }

    // MARK: authorize

    func authorize(secret: String, request: AuthorizeRequest) throws -> Decision {
        if let problem = request.validate() {
            return .deny(.badRequest(problem))
        }
        guard let metadata = try policyMetadata(),
              let hashValue = try transaction.get(databases.keyHashes, key: KeyHash(secret: secret).bytes),
              let flag = hashValue.first
        else {
            return .deny(Denial(reason: .unknownKey))
        }
        let keyId = String(decoding: hashValue.dropFirst(), as: UTF8.self)
        guard let key = try load(KeyPolicy.self, from: databases.keys, key: Array(keyId.utf8)),
              let tenantRecord = try load(TenantRecord.self, from: databases.tenants, key: Array(key.tenant.utf8))
        else {
            return .deny(Denial(reason: .unknownKey))
        }

        // A retry of a request already allowed gets the first answer and reserves nothing new.
        let requestKey = Self.requestIdKey(keyId: keyId, requestId: request.requestId)
        if let reservationId = try transaction.get(databases.requestIds, key: requestKey),
           let reservation = try load(Reservation.self, from: databases.reservations, key: reservationId) {
            return .allow(reservation.replayedAllowance)
        }
        // After the replay above: a retry of a request already allowed is still answered.
        if let refusedReservationsReason {
            return .deny(Denial(reason: .unavailable, detail: refusedReservationsReason))
        }

        var accountTags: [String: TagPolicy] = [:]
        func loadAccountTag(_ tag: String) throws {
            guard accountTags[tag] == nil else { return }
            if let tagPolicy = try load(TagPolicy.self, from: databases.accountTags, key: Array(tag.utf8)) {
                accountTags[tag] = tagPolicy
            }
        }
        for tag in request.tags {
            try loadAccountTag(tag)
        }
        if let defaultTag = key.defaultTag {
            try loadAccountTag(defaultTag)
        }
        let price = try load(ModelPrice.self, from: databases.prices, key: Array(request.model.utf8))
        let prepared: PreparedAuthorization
        // `request.validate()` passed at the top.
        switch AuthorizationEngine.prepare(
            validatedRequest: request, match: KeyMatch(key: key, viaPreviousSecret: flag == 1), tenant: tenantRecord.tenant,
            plan: tenantRecord.plan, accountTags: accountTags, price: price, defaults: metadata.defaults,
            policyVersion: metadata.version, now: now
        ) {
        case .failure(let denial): return .deny(denial)
        case .success(let value): prepared = value
        }

        // By position rather than in a [Scope: ScopeState]: see `AuthorizationEngine.decide(_:loadedStates:...)`.
        let loadedStates = try prepared.scopes.map { scope in try load(ScopeState.self, from: databases.scopes, key: scope.storageKey) }
        let decided = AuthorizationEngine.decide(prepared, loadedStates: loadedStates, reservationId: makeReservationId(), now: now)
        guard let reservation = decided.reservation else {
            return decided.decision
        }
        for (scope, state) in zip(decided.scopes, decided.states) {
            try transaction.put(databases.scopes, key: scope.storageKey, value: state.encodedRecord())
        }
        try store(reservation)
        try transaction.put(databases.requestIds, key: requestKey, value: Array(reservation.id.utf8))
        try transaction.put(databases.deadlines, key: Self.deadlineKey(reservation.expiresAt, reservation.id), value: [])
        return decided.decision
    }

    // MARK: settle, release

    func settle(_ request: SettleRequest) throws -> SettleAnswer {
        guard let reservation = try load(Reservation.self, from: databases.reservations, key: Array(request.reservationId.utf8)),
              let metadata = try policyMetadata()
        else {
            return .unknownReservation
        }
        let states = try loadStates(reservation.scopes)
        switch SettlementEngine.settle(
            request, reservation: reservation, states: states, limits: try currentLimits(of: reservation),
            retentionSeconds: metadata.defaults.reservationRetentionSeconds, now: now
        ) {
        case .failure(let problem):
            return .badRequest(problem)
        case .success(let transition):
            try apply(transition, previous: reservation)
            // Replayed or not, the answer is the stored settlement: a retry sees the first result.
            return .settled(reservationId: reservation.id, settlement: transition.reservation.settlement!, replayed: transition.replayed)
        }
    }

    func release(reservationId: String) throws -> ReleaseAnswer {
        guard let reservation = try load(Reservation.self, from: databases.reservations, key: Array(reservationId.utf8)),
              let metadata = try policyMetadata()
        else {
            return .unknownReservation
        }
        let transition = SettlementEngine.release(
            reservation: reservation, states: try loadStates(reservation.scopes),
            retentionSeconds: metadata.defaults.reservationRetentionSeconds, now: now
        )
        try apply(transition, previous: reservation)
        return .released(reservationId: reservationId, state: transition.reservation.state, replayed: transition.replayed)
    }

    // MARK: credit

    func credit(tenantId: String, micros: Int64, memo: String, requestId: String) throws -> CreditAnswer {
        guard requestId.utf8.count <= EngineLimits.requestIdBytesMax, !requestId.isEmpty else {
            return .badRequest(BadRequest("request id must be 1-\(EngineLimits.requestIdBytesMax) bytes"))
        }
        guard try transaction.get(databases.tenants, key: Array(tenantId.utf8)) != nil else {
            return .unknownTenant
        }
        let creditKey = Array(tenantId.utf8) + [0] + Array(requestId.utf8)
        if let stored = try transaction.get(databases.credits, key: creditKey) {
            let (balanceMicros, creditedMicros) = try RecordReader.reading(stored, record: "credit") { reader throws(RecordCorrupted) in
                (try reader.readInt64(), try reader.readInt64())
            }
            return .credited(tenantId: tenantId, balanceMicros: balanceMicros, creditedMicros: creditedMicros, replayed: true)
        }
        let scope = Scope.tenant(tenantId)
        switch SettlementEngine.credit(
            tenantId: tenantId, micros: micros, memo: memo, requestId: requestId, state: try loadStates([scope])[scope], now: now
        ) {
        case .failure(let problem):
            return .badRequest(problem)
        case .success(let (state, event)):
            try store(states: [scope: state])
            try append([event])
            var writer = RecordWriter()
            writer.write(state.balanceMicros)
            writer.write(micros)
            try transaction.put(databases.credits, key: creditKey, value: writer.bytes)
            return .credited(tenantId: tenantId, balanceMicros: state.balanceMicros, creditedMicros: micros, replayed: false)
        }
    }

    // MARK: sweep

    func sweep(countMax: Int) throws -> SweepSummary {
        var due: [[UInt8]] = []
        var more = false
        let limit = BigEndianKey.bytes(UInt64(bitPattern: now.nanosecondsSinceEpoch))
        try transaction.forEach(databases.deadlines) { key, _ in
            guard key.prefix(8).lexicographicallyPrecedes(limit) || key.prefix(8).elementsEqual(limit) else { return false }
            guard due.count < countMax else {
                more = true
                return false
            }
            due.append(key)
            return true
        }
        var summary = SweepSummary(expiredCount: 0, purgedCount: 0, more: more)
        let retentionSeconds = try policyMetadata()?.defaults.reservationRetentionSeconds ?? PolicyDefaults().reservationRetentionSeconds
        for key in due {
            _ = try transaction.delete(databases.deadlines, key: key)
            let reservationId = Array(key.dropFirst(8))
            guard let reservation = try load(Reservation.self, from: databases.reservations, key: reservationId) else { continue }
            if reservation.state == .open {
                let transition = SettlementEngine.expire(
                    reservation: reservation, states: try loadStates(reservation.scopes), retentionSeconds: retentionSeconds, now: now
                )
                // `apply` also re-files the reservation under its purge deadline.
                try apply(transition, previous: reservation, deadlineAlreadyRemoved: true)
                if !transition.replayed { summary.expiredCount += 1 }
            } else if reservation.purgeAt <= now {
                _ = try transaction.delete(databases.reservations, key: reservationId)
                _ = try transaction.delete(databases.requestIds, key: Self.requestIdKey(keyId: reservation.keyId, requestId: reservation.requestId))
                summary.purgedCount += 1
            } else {
                try transaction.put(databases.deadlines, key: Self.deadlineKey(reservation.purgeAt, reservation.id), value: [])
            }
        }
        if summary.expiredCount > 0 {
            let total = try transaction.get(databases.meta, key: MetaKey.expiredTotal).flatMap { BigEndianKey.value($0) } ?? 0
            try transaction.put(databases.meta, key: MetaKey.expiredTotal, value: BigEndianKey.bytes(total + UInt64(summary.expiredCount)))
        }
        return summary
    }

    // MARK: - Helpers

    private func policyMetadata() throws -> PolicyMetadata? {
        if let policyMetadataInTransaction { return policyMetadataInTransaction }
        let metadata = try transaction.withValue(databases.meta, key: MetaKey.policy) { record in
            try record.map { record throws(RecordCorrupted) in try policyMetadataCache.metadata(decoding: record) }
        }
        policyMetadataInTransaction = .some(metadata)
        return metadata
    }

    /// Decodes the record straight from LMDB's map, without copying it out first.
    private func load<Record: StoredRecord>(_ type: Record.Type, from database: LMDBDatabase, key: [UInt8]) throws -> Record? {
        try transaction.withValue(database, key: key) { record in
            try record.map { record throws(RecordCorrupted) in try Record(borrowing: record) }
        }
    }

    private func loadStates(_ scopes: [Scope]) throws -> [Scope: ScopeState] {
        var states: [Scope: ScopeState] = [:]
        for scope in scopes {
            if let state = try load(ScopeState.self, from: databases.scopes, key: scope.storageKey) {
                states[scope] = state
            }
        }
        return states
    }

    private func store(states: [Scope: ScopeState]) throws {
        for (scope, state) in states {
            try transaction.put(databases.scopes, key: scope.storageKey, value: state.encodedRecord())
        }
    }

    private func store(_ reservation: Reservation) throws {
        try transaction.put(databases.reservations, key: Array(reservation.id.utf8), value: reservation.encodedRecord())
    }

    /// The caps and rate limits now in force for the reservation's scopes. Scopes the policy no
    /// longer has get none, so nothing can be reported against them.
    private func currentLimits(of reservation: Reservation) throws -> ScopeLimits {
        var limits = ScopeLimits()
        if let key = try load(KeyPolicy.self, from: databases.keys, key: Array(reservation.keyId.utf8)) {
            limits.budgets[.key(key.id)] = key.budgets
            limits.keyRateLimits = key.rateLimits
        }
        let tenantRecord = try load(TenantRecord.self, from: databases.tenants, key: Array(reservation.tenantId.utf8))
        if let tenantRecord {
            limits.budgets[.tenant(reservation.tenantId)] = tenantRecord.tenant.budgets + tenantRecord.plan.budgets
            limits.tenantRateLimits = tenantRecord.plan.rateLimits.overridden(by: tenantRecord.tenant.rateLimits)
        }
        for scope in reservation.scopes {
            switch scope {
            case .tenantTag(_, let tag):
                limits.budgets[scope] = tenantRecord?.tenant.tags[tag]?.budgets
            case .tag(let tag):
                limits.budgets[scope] = try load(TagPolicy.self, from: databases.accountTags, key: Array(tag.utf8))?.budgets
            case .key, .tenant:
                break
            }
        }
        return limits
    }

    /// Writes what a finished reservation changed and moves it from its old deadline to its purge.
    private func apply(_ transition: ReservationTransition, previous: Reservation, deadlineAlreadyRemoved: Bool = false) throws {
        guard !transition.replayed else { return }
        try store(states: transition.states)
        try store(transition.reservation)
        try append(transition.events)
        if !deadlineAlreadyRemoved {
            let oldDeadline = previous.state == .open ? previous.expiresAt : previous.purgeAt
            _ = try transaction.delete(databases.deadlines, key: Self.deadlineKey(oldDeadline, previous.id))
        }
        try transaction.put(databases.deadlines, key: Self.deadlineKey(transition.reservation.purgeAt, previous.id), value: [])
    }

    /// Appends events to the outbox with the next sequence numbers.
    private func append(_ events: [LedgerEvent]) throws {
        guard !events.isEmpty else { return }
        var next = try transaction.get(databases.meta, key: MetaKey.outboxNext).flatMap { BigEndianKey.value($0) } ?? 1
        for var event in events {
            event.sequence = next
            try transaction.put(databases.outbox, key: BigEndianKey.bytes(next), value: event.encodedRecord())
            next += 1
        }
        try transaction.put(databases.meta, key: MetaKey.outboxNext, value: BigEndianKey.bytes(next))
    }

    // Keys are written into one buffer of their final size: concatenating arrays made three or
    // four allocations per key, and an authorize builds both of these.

    /// Key id + 0x00 + request id: the `requestIds` key.
    static func requestIdKey(keyId: String, requestId: String) -> [UInt8] {
        var writer = RecordWriter(capacity: keyId.utf8.count + 1 + requestId.utf8.count)
        writer.writeUnprefixed(keyId)
        writer.write(UInt8(0))
        writer.writeUnprefixed(requestId)
        return writer.bytes
    }

    /// Big-endian deadline (ns) + reservation id: the `deadlines` key.
    static func deadlineKey(_ deadline: Timestamp, _ reservationId: String) -> [UInt8] {
        var writer = RecordWriter(capacity: MemoryLayout<UInt64>.size + reservationId.utf8.count)
        // Big-endian, as `BigEndianKey.bytes`.
        writer.write(UInt64(bitPattern: deadline.nanosecondsSinceEpoch))
        writer.writeUnprefixed(reservationId)
        return writer.bytes
    }
}
