/// One month's bill per tenant: the usage cost from the ledger and the amount billed after a
/// markup, in integer micros.
///
/// Rounding rule: the markup is given in percent with at most two decimals (basis points), and
/// each tenant's billed amount is `cost × (10,000 + basis points) / 10,000` rounded half up to a
/// whole micro, once per tenant line. The total billed is the sum of the lines, so the invoice adds
/// up exactly as printed. The total cost equals the sum of that month's settle events exactly.
public struct Invoice: Hashable, Sendable {
    public struct Line: Hashable, Sendable {
        public var tenant: String
        public var requests: Int64
        public var costMicros: Int64
        public var billedMicros: Int64
    }

    public var month: String
    public var markupBasisPoints: Int64
    public var lines: [Line]
    public var totalCostMicros: Int64
    public var totalBilledMicros: Int64

    /// Markups from -100% (free) to +1,000%.
    public static let markupBasisPointsRange: ClosedRange<Int64> = -10_000...100_000

    /// Parses a percent such as `20`, `12.5` or `0.25` into basis points, exactly.
    public static func markupBasisPoints(percent text: String) -> Int64? {
        let negative = text.hasPrefix("-")
        let digits = negative ? String(text.dropFirst()) : text
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCII), let whole = Int64(parts[0]) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            fraction = Int64(parts[1])! * (parts[1].count == 1 ? 10 : 1)
        }
        guard whole <= 1_000 else { return nil }
        let points = (whole * 100 + fraction) * (negative ? -1 : 1)
        return markupBasisPointsRange.contains(points) ? points : nil
    }

    /// `cost × (10,000 + points) / 10,000`, rounded half up, without overflow for any cost a ledger
    /// can hold (costs are below 2^63 / 110,000 for any realistic month; larger ones trap).
    public static func billed(costMicros: Int64, markupBasisPoints points: Int64) -> Int64 {
        let numerator = costMicros * (10_000 + points)
        let (quotient, remainder) = numerator.quotientAndRemainder(dividingBy: 10_000)
        return remainder * 2 >= 10_000 ? quotient + 1 : quotient
    }

    /// The invoice of `month` (`YYYY-MM`) from the daily rollups.
    public static func build(_ ledger: LedgerDatabase, month: String, markupBasisPoints points: Int64) throws -> Invoice {
        guard let range = LedgerCalendar.parseMonth(month) else {
            throw LedgerError.invalidQuery("the month must be YYYY-MM")
        }
        guard markupBasisPointsRange.contains(points) else {
            throw LedgerError.invalidQuery("the markup must be between -100 and 1000 percent")
        }
        var lines: [Line] = []
        try ledger.read {
            try ledger.rows(
                "SELECT tenant, SUM(requests), SUM(cost_micros) FROM rollups WHERE day >= ? AND day < ? GROUP BY tenant ORDER BY tenant",
                [.text(range.first), .text(range.next)]
            ) { row in
                let cost = row.int64(2)
                lines.append(Line(tenant: row.text(0), requests: row.int64(1), costMicros: cost, billedMicros: billed(costMicros: cost, markupBasisPoints: points)))
            }
        }
        return Invoice(
            month: month, markupBasisPoints: points, lines: lines,
            totalCostMicros: lines.reduce(0) { $0 + $1.costMicros }, totalBilledMicros: lines.reduce(0) { $0 + $1.billedMicros }
        )
    }
}
