import PurserEngine
import PurserPolicy
import PurserSQLite

/// The usage ledger in SQLite (WAL), drained from the LMDB outbox.
///
/// One connection, used from one thread at a time. The daemon's ledger service holds the writing
/// connection; `purser usage`, `invoice` and `reconcile` open their own read-only connections,
/// which WAL lets run while the daemon writes.
public final class LedgerDatabase {
    public static let fileName = "ledger.sqlite3"
    /// The most events one `append` accepts, so one transaction stays short.
    public static let appendEventsCountMax = 10_000
    /// The writing connection's page cache (`PRAGMA cache_size`), allocated as pages are used.
    public static let writerCacheKibibytes = 16_384

    let database: SQLiteDatabase

    /// Opens (and, unless read-only, creates or migrates) the ledger at `path`.
    public init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        database = try SQLiteDatabase(path: path, options: SQLiteOptions(
            readOnly: readOnly,
            journalModeWAL: !readOnly,
            // FULL: a commit returns once its WAL frames are fsynced. The drain trims LMDB's outbox
            // right after each commit, and that trim is made durable by the next settle's journal
            // fsync; with NORMAL (WAL fsynced only at checkpoints) a power loss could keep the trim
            // and lose the commit, and those events would be in neither place: the ledger short of
            // the counters for good. The price is one fsync per drain (about one a second).
            synchronous: readOnly ? .normal : .full,
            // The writer's upserts walk the rollup and scope-total indexes of a ledger that soon
            // outgrows SQLite's default 2 MB cache. `purser bench ledger --events 300000
            // --tenants 10000`, pinned, two rounds: 14,934-16,723 events/s with the default,
            // 20,531-22,308 with 16 MiB, 22,708-26,818 with 64 MiB; 16 MiB takes most of the gain
            // for a quarter of the memory. Readers keep the default.
            cacheSizeKibibytes: readOnly ? 2_000 : LedgerDatabase.writerCacheKibibytes
        ))
        if !readOnly {
            try database.execute(LedgerSchema.statements)
            try database.execute("PRAGMA user_version = \(LedgerSchema.version)")
        }
    }

    public func close() {
        database.close()
    }

    // MARK: - Meta

    /// The sequence of the last outbox event in the ledger; 0 for an empty ledger.
    public func highWaterSequence() throws(SQLiteError) -> UInt64 {
        try meta("high_water").map { UInt64($0) } ?? 0
    }

    /// Events on days before this one were pruned; `nil` if none ever were.
    public func prunedBeforeDay() throws(SQLiteError) -> String? {
        guard let value = try meta("pruned_before_day") else { return nil }
        return LedgerCalendar.dayKey(CivilDate(daysSinceEpoch: value))
    }

    private func meta(_ name: String) throws(SQLiteError) -> Int64? {
        guard case .integer(let value)? = try database.cachedStatement(literal: "SELECT value FROM ledger_meta WHERE name = ?")
            .firstRow([.text(name)])?.first
        else { return nil }
        return value
    }

    private func setMeta(_ name: String, _ value: Int64) throws(SQLiteError) {
        try database.cachedStatement(literal: "INSERT INTO ledger_meta(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value")
            .run([.text(name), .integer(value)])
    }

    // MARK: - Appending

    /// Appends outbox events in one transaction, exactly once: events at or below the high-water
    /// mark are skipped (they were appended before a crash cut the outbox trim short), and the
    /// mark moves in the same transaction as the rows and rollups. Returns the new mark.
    @discardableResult
    public func append(_ events: [LedgerEvent]) throws -> UInt64 {
        precondition(events.count <= Self.appendEventsCountMax, "append at most appendEventsCountMax events at once")
        return try database.transaction {
            var highWater = try highWaterSequence()
            // Rollups and totals are summed in memory first and written once per key: a batch
            // touches far fewer rows than it has events, and each upsert is a B-tree write.
            var totals = BatchTotals()
            for event in events where event.sequence > highWater {
                // The outbox is gapless and trimmed only below the mark, so a gap means lost events.
                guard event.sequence == highWater + 1 || highWater == 0 else {
                    throw LedgerError.sequenceGap(expected: highWater + 1, found: event.sequence)
                }
                try insert(event)
                totals.add(event)
                highWater = event.sequence
            }
            try write(totals)
            try setMeta("high_water", Int64(highWater))
            return highWater
        }
    }

    private func insert(_ event: LedgerEvent) throws(SQLiteError) {
        let day = LedgerCalendar.dayKey(event.time)
        let scopes = event.scopes.map(\.description).joined(separator: "|")
        func optionalText(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
        func optionalInteger(_ value: Int64?) -> SQLiteValue { value.map { .integer($0) } ?? .null }
        try database.cachedStatement(literal: """
            INSERT INTO events (sequence, time_ms, day, kind, tenant, key_id, tags, model, input_tokens, output_tokens,
                cost_micros, estimate_micros, status, retries, request_id, reservation_id, policy_version,
                price_input_micros, price_output_micros, scopes, draws_balance, overdraft_scope, overdraft_period,
                overdraft_micros, credit_micros, memo)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).run([
                .integer(Int64(event.sequence)), .integer(event.time.nanosecondsSinceEpoch / 1_000_000), .text(day),
                .text(event.kind.rawValue), .text(event.tenantId), .text(event.keyId), .text(event.tags.joined(separator: ",")),
                .text(event.model), .integer(event.inputTokens), .integer(event.outputTokens), .integer(event.costMicros),
                .integer(event.estimateMicros), optionalText(event.status?.rawValue), .integer(event.retries),
                .text(event.requestId), .text(event.reservationId), .text(event.policyVersion),
                optionalInteger(event.price?.inputMicrosPerMillionTokens), optionalInteger(event.price?.outputMicrosPerMillionTokens),
                .text(scopes), .integer(event.drawsBalance ? 1 : 0), optionalText(event.overdraftScope),
                optionalText(event.overdraftPeriod?.rawValue), .integer(event.overdraftMicros), .integer(event.creditMicros),
                .text(event.memo),
            ])
    }

    private func write(_ totals: BatchTotals) throws(SQLiteError) {
        for (key, measures) in totals.rollups {
            try database.cachedStatement(literal: """
                INSERT INTO rollups (day, tenant, key_id, model, requests, errors, input_tokens, output_tokens, cost_micros)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(day, tenant, key_id, model) DO UPDATE SET requests = requests + excluded.requests,
                    errors = errors + excluded.errors, input_tokens = input_tokens + excluded.input_tokens,
                    output_tokens = output_tokens + excluded.output_tokens, cost_micros = cost_micros + excluded.cost_micros
                """).run([.text(key.day), .text(key.tenant), .text(key.keyId), .text(key.model)] + measures.values)
        }
        for (key, measures) in totals.tagRollups {
            try database.cachedStatement(literal: """
                INSERT INTO tag_rollups (day, tenant, key_id, model, tag, requests, errors, input_tokens, output_tokens, cost_micros)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(day, tenant, key_id, model, tag) DO UPDATE SET requests = requests + excluded.requests,
                    errors = errors + excluded.errors, input_tokens = input_tokens + excluded.input_tokens,
                    output_tokens = output_tokens + excluded.output_tokens, cost_micros = cost_micros + excluded.cost_micros
                """).run([.text(key.rollup.day), .text(key.rollup.tenant), .text(key.rollup.keyId), .text(key.rollup.model), .text(key.tag)]
                    + measures.values)
        }
        for (key, micros) in totals.scopeTotals {
            try database.cachedStatement(literal: """
                INSERT INTO scope_totals (scope, period, period_key, micros) VALUES (?, ?, ?, ?)
                ON CONFLICT(scope, period, period_key) DO UPDATE SET micros = micros + excluded.micros
                """).run([.text(key.scope), .text(key.period), .text(key.periodKey), .integer(micros)])
        }
    }

    // MARK: - Retention

    /// Deletes events from days before `cutoff`'s day. Rollups and scope totals are kept, so
    /// usage, invoices and reconciliation are unaffected. Returns the number of events deleted.
    @discardableResult
    public func prune(before cutoff: Timestamp) throws -> Int {
        let cutoffDay = LedgerCalendar.dayKey(cutoff)
        let cutoffDays = cutoff.daysSinceEpoch
        return try database.transaction {
            try database.cachedStatement(literal: "DELETE FROM events WHERE day < ?").run([.text(cutoffDay)])
            let deleted = database.changes
            if (try meta("pruned_before_day") ?? Int64.min) < cutoffDays {
                try setMeta("pruned_before_day", cutoffDays)
            }
            return deleted
        }
    }

    // MARK: - Reading

    /// Runs `body` in one read transaction: every query inside sees the same snapshot.
    public func read<T>(_ body: () throws -> T) throws -> T {
        try database.execute("BEGIN")
        do {
            let value = try body()
            try database.execute("COMMIT")
            return value
        } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
    }

    /// The sum of every settle event's cost, read from the events table itself: the full scan a
    /// ledger without rollups would need, used as the benchmarks' baseline.
    public func scanEventCosts(_ result: (Int64) -> Void) throws {
        try rows("SELECT COALESCE(SUM(cost_micros), 0) FROM events WHERE kind = 'settle'") { row in result(row.int64(0)) }
    }

    /// Rows of a query, for the reports built on top of this type.
    func rows(_ sql: String, _ values: [SQLiteValue] = [], _ body: (SQLiteRow) throws -> Void) throws {
        try database.cachedStatement(sql).forEachRow(values, body)
    }
}

/// Scope strings that exist only in the ledger.
public enum LedgerScopes {
    /// Lifetime credits of a tenant.
    public static func creditDescription(tenant: String) -> String { "credit:\(tenant)" }
}

