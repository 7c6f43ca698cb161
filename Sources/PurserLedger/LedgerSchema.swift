import PurserPolicy

/// The ledger's SQLite schema, versioned with `PRAGMA user_version`.
///
/// - `events`: one row per outbox event, keyed by its outbox sequence, which is what makes the
///   drain exactly-once: a sequence can be inserted once, and the high-water mark moves in the same
///   transaction as the rows.
/// - `rollups` / `tag_rollups`: requests, errors, tokens and cost per UTC day × tenant × key × model
///   (× tag), updated in the same transaction as the events they sum. A settle with two tags counts
///   once in `rollups` and once under each tag in `tag_rollups`; a settle with no tag is filed under
///   the tag "" there.
/// - `scope_totals`: the ledger's copy of every LMDB counter's history (spent per scope, per period),
///   kept when old events are pruned, so reconciliation stays exact.
enum LedgerSchema {
    static let version = 1

    static let statements = """
        CREATE TABLE IF NOT EXISTS ledger_meta (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS events (
            sequence INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            day TEXT NOT NULL,
            kind TEXT NOT NULL,
            tenant TEXT NOT NULL,
            key_id TEXT NOT NULL,
            tags TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            estimate_micros INTEGER NOT NULL,
            status TEXT,
            retries INTEGER NOT NULL,
            request_id TEXT NOT NULL,
            reservation_id TEXT NOT NULL,
            policy_version TEXT NOT NULL,
            price_input_micros INTEGER,
            price_output_micros INTEGER,
            scopes TEXT NOT NULL,
            draws_balance INTEGER NOT NULL,
            overdraft_scope TEXT,
            overdraft_period TEXT,
            overdraft_micros INTEGER NOT NULL,
            credit_micros INTEGER NOT NULL,
            memo TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS events_by_day ON events(day);
        CREATE TABLE IF NOT EXISTS rollups (
            day TEXT NOT NULL,
            tenant TEXT NOT NULL,
            key_id TEXT NOT NULL,
            model TEXT NOT NULL,
            requests INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            PRIMARY KEY (day, tenant, key_id, model)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS rollups_by_tenant ON rollups(tenant, day);
        CREATE TABLE IF NOT EXISTS tag_rollups (
            day TEXT NOT NULL,
            tenant TEXT NOT NULL,
            key_id TEXT NOT NULL,
            model TEXT NOT NULL,
            tag TEXT NOT NULL,
            requests INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            PRIMARY KEY (day, tenant, key_id, model, tag)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS tag_rollups_by_tenant ON tag_rollups(tenant, day);
        CREATE TABLE IF NOT EXISTS scope_totals (
            scope TEXT NOT NULL,
            period TEXT NOT NULL,
            period_key TEXT NOT NULL,
            micros INTEGER NOT NULL,
            PRIMARY KEY (scope, period, period_key)
        ) WITHOUT ROWID;
        """
}

/// Text keys of UTC days and months, as the ledger stores them: `2026-11-22` and `2026-11`.
/// They sort in time order, so ranges are string comparisons.
public enum LedgerCalendar {
    public static func dayKey(_ time: Timestamp) -> String {
        let date = civilDate(time)
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
    }

    public static func monthKey(_ time: Timestamp) -> String {
        let date = civilDate(time)
        return "\(pad(date.year, 4))-\(pad(date.month, 2))"
    }

    /// Parses `YYYY-MM-DD` into a date, checking it exists.
    public static func parseDay(_ text: String) -> CivilDate? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int64(parts[0]), let month = Int64(parts[1]), let day = Int64(parts[2]),
              (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: year, month: month)
        else { return nil }
        return CivilDate(year: year, month: month, day: day)
    }

    /// Parses `YYYY-MM` into its first day and the first day of the next month.
    public static func parseMonth(_ text: String) -> (first: String, next: String)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              let year = Int64(parts[0]), let month = Int64(parts[1]), (1...12).contains(month)
        else { return nil }
        let next = month == 12 ? (year + 1, Int64(1)) : (year, month + 1)
        return ("\(pad(year, 4))-\(pad(month, 2))-01", "\(pad(next.0, 4))-\(pad(next.1, 2))-01")
    }

    public static func dayKey(_ date: CivilDate) -> String {
        "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
    }

    static func civilDate(_ time: Timestamp) -> CivilDate {
        CivilDate(daysSinceEpoch: time.daysSinceEpoch)
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
