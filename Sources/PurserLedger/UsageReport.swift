import Foundation
import PurserSQLite

/// Requests, errors, tokens and cost: what a usage page shows for any slice.
public struct UsageMeasures: Hashable, Sendable {
    public var requests: Int64 = 0
    public var errors: Int64 = 0
    public var inputTokens: Int64 = 0
    public var outputTokens: Int64 = 0
    public var costMicros: Int64 = 0

    public init(requests: Int64 = 0, errors: Int64 = 0, inputTokens: Int64 = 0, outputTokens: Int64 = 0, costMicros: Int64 = 0) {
        self.requests = requests
        self.errors = errors
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costMicros = costMicros
    }
}

/// What a breakdown groups by.
public enum UsageDimension: String, CaseIterable, Hashable, Sendable {
    case tenant
    case key
    case model
    case day
    case tag

    var column: String {
        switch self {
        case .tenant: return "tenant"
        case .key: return "key_id"
        case .model: return "model"
        case .day: return "day"
        case .tag: return "tag"
        }
    }
}

/// Which settled requests a report covers: UTC days `fromDay` through `toDay`, both included.
public struct UsageFilter: Hashable, Sendable {
    public var tenant: String?
    public var key: String?
    public var tag: String?
    public var fromDay: String
    public var toDay: String

    public init(tenant: String? = nil, key: String? = nil, tag: String? = nil, fromDay: String, toDay: String) {
        self.tenant = tenant
        self.key = key
        self.tag = tag
        self.fromDay = fromDay
        self.toDay = toDay
    }
}

/// A summary plus breakdowns, read from the daily rollups (never from raw events, so a month of
/// a large tenant is a few hundred rows, not millions).
public struct UsageReport: Hashable, Sendable {
    public struct Row: Hashable, Sendable {
        public var value: String
        public var measures: UsageMeasures
    }

    public var filter: UsageFilter
    public var summary: UsageMeasures
    /// In the order asked for; rows sorted by value.
    public var breakdowns: [(dimension: UsageDimension, rows: [Row])]

    public static func == (lhs: UsageReport, rhs: UsageReport) -> Bool {
        lhs.filter == rhs.filter && lhs.summary == rhs.summary
            && lhs.breakdowns.map(\.dimension) == rhs.breakdowns.map(\.dimension) && lhs.breakdowns.map(\.rows) == rhs.breakdowns.map(\.rows)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(filter)
        hasher.combine(summary)
    }

    /// Builds the report. A filter or breakdown on tags reads the tag rollups, where a settle with
    /// several tags counts under each of them; everything else reads the plain rollups, where each
    /// settle counts once.
    public static func build(_ ledger: LedgerDatabase, filter: UsageFilter, breakdowns: [UsageDimension]) throws -> UsageReport {
        guard LedgerCalendar.parseDay(filter.fromDay) != nil, LedgerCalendar.parseDay(filter.toDay) != nil, filter.fromDay <= filter.toDay else {
            throw LedgerError.invalidQuery("the date range must be two YYYY-MM-DD days, the first not after the second")
        }
        return try ledger.read {
            let summary = try measures(ledger, filter: filter, groupBy: nil).first?.measures ?? UsageMeasures()
            var results: [(UsageDimension, [Row])] = []
            for dimension in breakdowns {
                results.append((dimension, try measures(ledger, filter: filter, groupBy: dimension)))
            }
            return UsageReport(filter: filter, summary: summary, breakdowns: results)
        }
    }

    private static func measures(_ ledger: LedgerDatabase, filter: UsageFilter, groupBy: UsageDimension?) throws -> [Row] {
        let useTags = filter.tag != nil || groupBy == .tag
        var conditions = ["day >= ?", "day <= ?"]
        var values: [SQLiteValue] = [.text(filter.fromDay), .text(filter.toDay)]
        if let tenant = filter.tenant {
            conditions.append("tenant = ?")
            values.append(.text(tenant))
        }
        if let key = filter.key {
            conditions.append("key_id = ?")
            values.append(.text(key))
        }
        if let tag = filter.tag {
            conditions.append("tag = ?")
            values.append(.text(tag))
        }
        let group = groupBy.map { "\($0.column)" } ?? "''"
        let sql = """
            SELECT \(group), COALESCE(SUM(requests), 0), COALESCE(SUM(errors), 0), COALESCE(SUM(input_tokens), 0),
                   COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_micros), 0)
            FROM \(useTags ? "tag_rollups" : "rollups") WHERE \(conditions.joined(separator: " AND "))
            \(groupBy == nil ? "" : "GROUP BY 1 ORDER BY 1")
            """
        var rows: [Row] = []
        try ledger.rows(sql, values) { row in
            rows.append(Row(value: row.text(0), measures: UsageMeasures(
                requests: row.int64(1), errors: row.int64(2), inputTokens: row.int64(3), outputTokens: row.int64(4), costMicros: row.int64(5)
            )))
        }
        return rows
    }
}

extension UsageMeasures {
    func json(leading: (String, String)? = nil) -> JSONText {
        var object = JSONText()
        if let leading { object.add(leading.0, leading.1) }
        object.add("requests", requests)
        object.add("errors", errors)
        object.add("input_tokens", inputTokens)
        object.add("output_tokens", outputTokens)
        object.add("cost_micros", costMicros)
        return object
    }
}

extension UsageReport {
    /// `{"from":…,"to":…,"filter":{…},"summary":{…},"by_model":[…],…}`: the shape a usage page uses.
    public var json: String {
        var root = JSONText()
        root.add("from", filter.fromDay)
        root.add("to", filter.toDay)
        var filterObject = JSONText()
        if let tenant = filter.tenant { filterObject.add("tenant", tenant) }
        if let key = filter.key { filterObject.add("key", key) }
        if let tag = filter.tag { filterObject.add("tag", tag) }
        root.add("filter", raw: filterObject.text)
        root.add("summary", raw: summary.json().text)
        for (dimension, rows) in breakdowns {
            root.add("by_\(dimension.rawValue)", objects: rows.map { $0.measures.json(leading: (dimension.rawValue, $0.value)) })
        }
        return root.text
    }

    /// One header line, then `dimension,value,measures…` rows: the summary first as `summary,`.
    public var csv: String {
        var lines = ["dimension,value,requests,errors,input_tokens,output_tokens,cost_micros"]
        func line(_ dimension: String, _ value: String, _ measures: UsageMeasures) -> String {
            "\(dimension),\(CSV.field(value)),\(measures.requests),\(measures.errors),\(measures.inputTokens),\(measures.outputTokens),\(measures.costMicros)"
        }
        lines.append(line("summary", "", summary))
        for (dimension, rows) in breakdowns {
            for row in rows { lines.append(line(dimension.rawValue, row.value, row.measures)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Aligned columns for a terminal.
    public var table: String {
        var lines = ["usage \(filter.fromDay) to \(filter.toDay)"]
        func row(_ label: String, _ measures: UsageMeasures) -> String {
            label.padding(toLength: max(label.count, 28), withPad: " ", startingAt: 0)
                + "  \(pad(measures.requests, 10))  \(pad(measures.errors, 8))  \(pad(measures.inputTokens, 14))  \(pad(measures.outputTokens, 14))  \(pad(measures.costMicros, 16))"
        }
        lines.append("".padding(toLength: 28, withPad: " ", startingAt: 0) + "    requests    errors    input_tokens   output_tokens       cost_micros")
        lines.append(row("total", summary))
        for (dimension, rows) in breakdowns {
            lines.append("by \(dimension.rawValue)")
            for entry in rows { lines.append(row("  " + (entry.value.isEmpty ? "(none)" : entry.value), entry.measures)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// Quoting for CSV fields (RFC 4180). Identifiers never need it; memos and names might.
enum CSV {
    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
