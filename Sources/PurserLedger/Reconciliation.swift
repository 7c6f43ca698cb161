import PurserEngine
import PurserPolicy
import PurserSQLite

/// What LMDB held at one instant, read in one read transaction.
public struct CounterSnapshot: Sendable {
    /// Every scope's state, rolled to `time`'s day and month.
    public var states: [Scope: ScopeState]
    /// Events still in the outbox, in sequence order.
    public var outboxEvents: [LedgerEvent]
    public var openReservations: [Reservation]
    /// The sequence of the last event ever appended to the outbox (0 if none).
    public var lastSequence: UInt64
    public var time: Timestamp

    public init(states: [Scope: ScopeState], outboxEvents: [LedgerEvent], openReservations: [Reservation], lastSequence: UInt64, time: Timestamp) {
        self.states = states
        self.outboxEvents = outboxEvents
        self.openReservations = openReservations
        self.lastSequence = lastSequence
        self.time = time
    }
}

/// Checks, for every scope and period, that the ledger's sum equals the LMDB counter, and that
/// the rollups equal the events they summarize.
///
/// Exact while the daemon runs: LMDB is read first, at sequence S; the ledger, read next, may be
/// ahead of S (it keeps draining), so events above S are taken out of its sums, and outbox events
/// it has not drained yet are added in.
public struct Reconciliation: Sendable {
    public struct Difference: Hashable, Sendable, CustomStringConvertible {
        public var scope: String
        public var period: String
        public var periodKey: String
        public var ledgerMicros: Int64
        public var counterMicros: Int64

        public var description: String {
            let where_ = periodKey.isEmpty ? period : "\(period) \(periodKey)"
            return "\(scope) \(where_): ledger \(ledgerMicros) micros, counters \(counterMicros) micros (difference \(ledgerMicros - counterMicros))"
        }
    }

    public var differences: [Difference]
    /// Rollup rows that disagree with the events they summarize, described for a human.
    public var rollupDifferences: [String]
    public var scopesChecked: Int
    public var eventsInLedger: UInt64
    public var eventsPending: Int
    /// Reserved, not yet spent: reported apart, never a difference.
    public var openReservationsCount: Int
    public var openReservedMicrosByTenant: [String: Int64]

    public var isConsistent: Bool { differences.isEmpty && rollupDifferences.isEmpty }

    public static func run(snapshot: CounterSnapshot, ledger: LedgerDatabase) throws -> Reconciliation {
        let month = LedgerCalendar.monthKey(snapshot.time)
        let day = LedgerCalendar.dayKey(snapshot.time)
        typealias Key = BatchTotals.ScopeKey
        var ledgerSums: [Key: Int64] = [:]
        var highWater: UInt64 = 0
        var rollupDifferences: [String] = []

        // What events add to the ledger's scope totals is decided in one place, `BatchTotals`,
        // so the check can never drift from what the drain writes.
        var drainedAfterSnapshot = BatchTotals()
        var pending = BatchTotals()

        try ledger.read {
            highWater = try ledger.highWaterSequence()
            try ledger.rows(
                "SELECT scope, period, period_key, micros FROM scope_totals WHERE period = 'total' OR (period = 'month' AND period_key = ?) OR (period = 'day' AND period_key = ?)",
                [.text(month), .text(day)]
            ) { row in
                ledgerSums[Key(scope: row.text(0), period: row.text(1), periodKey: row.text(2)), default: 0] += row.int64(3)
            }
            // Events the ledger drained after the LMDB snapshot was taken.
            if highWater > snapshot.lastSequence {
                try ledger.rows(
                    "SELECT sequence, time_ms, kind, tenant, scopes, draws_balance, cost_micros, credit_micros FROM events WHERE sequence > ?",
                    [.integer(Int64(snapshot.lastSequence))]
                ) { row in
                    drainedAfterSnapshot.add(LedgerEvent(
                        sequence: UInt64(row.int64(0)), kind: LedgerEventKind(rawValue: row.text(2)) ?? .release,
                        time: Timestamp(nanosecondsSinceEpoch: row.int64(1) * 1_000_000), tenantId: row.text(3),
                        costMicros: row.int64(6), scopes: parseScopes(row.text(4)), drawsBalance: row.int64(5) == 1,
                        creditMicros: row.int64(7)
                    ))
                }
            }
            rollupDifferences = try checkRollups(ledger)
        }
        // Events the ledger has not drained yet.
        let pendingEvents = snapshot.outboxEvents.filter { $0.sequence > highWater && $0.sequence <= snapshot.lastSequence }
        for event in pendingEvents { pending.add(event) }
        for (key, micros) in pending.scopeTotals { ledgerSums[key, default: 0] += micros }
        for (key, micros) in drainedAfterSnapshot.scopeTotals { ledgerSums[key, default: 0] -= micros }

        var counterValues: [Key: Int64] = [:]
        for (scope, state) in snapshot.states {
            counterValues[Key(scope: scope.description, period: "total", periodKey: "")] = state.total.spentMicros
            counterValues[Key(scope: scope.description, period: "month", periodKey: month)] = state.month.spentMicros
            counterValues[Key(scope: scope.description, period: "day", periodKey: day)] = state.day.spentMicros
            if case .tenant(let tenant) = scope {
                counterValues[Key(scope: Scope.balanceDescription(tenant: tenant), period: "total", periodKey: "")] = state.creditedMicros - state.balanceMicros
                counterValues[Key(scope: LedgerScopes.creditDescription(tenant: tenant), period: "total", periodKey: "")] = state.creditedMicros
            }
        }
        var differences: [Difference] = []
        let keys = Set(counterValues.keys).union(ledgerSums.keys.filter { $0.period == "total" || $0.periodKey == month || $0.periodKey == day })
        for key in keys.sorted(by: { ($0.scope, $0.period, $0.periodKey) < ($1.scope, $1.period, $1.periodKey) }) {
            let ledgerValue = ledgerSums[key] ?? 0
            let counterValue = counterValues[key] ?? 0
            if ledgerValue != counterValue {
                differences.append(Difference(scope: key.scope, period: key.period, periodKey: key.periodKey, ledgerMicros: ledgerValue, counterMicros: counterValue))
            }
        }
        var reservedByTenant: [String: Int64] = [:]
        for reservation in snapshot.openReservations {
            reservedByTenant[reservation.tenantId, default: 0] += reservation.estimateMicros
        }
        return Reconciliation(
            differences: differences, rollupDifferences: rollupDifferences, scopesChecked: snapshot.states.count,
            eventsInLedger: highWater, eventsPending: pendingEvents.count, openReservationsCount: snapshot.openReservations.count,
            openReservedMicrosByTenant: reservedByTenant
        )
    }

    static func parseScopes(_ text: String) -> [Scope] {
        text.split(separator: "|").compactMap { part in
            let pieces = part.split(separator: ":", maxSplits: 1).map(String.init)
            guard pieces.count == 2 else { return nil }
            switch pieces[0] {
            case "key": return .key(pieces[1])
            case "tenant": return .tenant(pieces[1])
            case "tag": return .tag(pieces[1])
            case "tenant_tag":
                let parts = pieces[1].split(separator: "/", maxSplits: 1).map(String.init)
                return parts.count == 2 ? .tenantTag(tenant: parts[0], tag: parts[1]) : nil
            default: return nil
            }
        }
    }

    /// Rollups against the events still in the ledger (days before a prune have no events left
    /// to compare with, and are skipped).
    static func checkRollups(_ ledger: LedgerDatabase) throws -> [String] {
        let from = try ledger.prunedBeforeDay() ?? ""
        var problems: [String] = []
        let eventsByGroup = """
            SELECT day, tenant, key_id, model, COUNT(*) AS requests, SUM(status = 'error') AS errors, SUM(input_tokens) AS input_tokens,
                   SUM(output_tokens) AS output_tokens, SUM(cost_micros) AS cost_micros
            FROM events WHERE kind = 'settle' AND day >= ?1 GROUP BY day, tenant, key_id, model
            """
        let rollupRows = "SELECT day, tenant, key_id, model, requests, errors, input_tokens, output_tokens, cost_micros FROM rollups WHERE day >= ?1"
        for (label, sql) in [("missing from or different in rollups", "\(eventsByGroup) EXCEPT \(rollupRows)"),
                             ("in rollups but not in events", "\(rollupRows) EXCEPT \(eventsByGroup)")] {
            try ledger.rows(sql + " LIMIT 100", [.text(from)]) { row in
                problems.append("rollup \(label): day \(row.text(0)) tenant \(row.text(1)) key \(row.text(2)) model \(row.text(3)): "
                    + "requests \(row.int64(4)) errors \(row.int64(5)) input \(row.int64(6)) output \(row.int64(7)) cost \(row.int64(8))")
            }
        }
        return problems
    }
}
