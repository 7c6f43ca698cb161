import PurserPolicy

/// Which UTC calendar day and month a moment falls in, as plain integers.
///
/// `day` counts days since 1970-01-01 and `month` counts months since January 1970, so comparing
/// two indexes tells whether a counter belongs to the current period without any calendar object.
public struct PeriodIndexes: Hashable, Sendable {
    public var day: Int64
    public var month: Int64

    public init(day: Int64, month: Int64) {
        self.day = day
        self.month = month
    }

    public init(at time: Timestamp) {
        let day = time.daysSinceEpoch
        let date = CivilDate(daysSinceEpoch: day)
        self.day = day
        self.month = (date.year - 1970) * 12 + (date.month - 1)
    }

    /// The index of `period`; `total` is always period 0.
    public func index(of period: BudgetPeriod) -> Int64 {
        switch period {
        case .total: return 0
        case .month: return month
        case .day: return day
        }
    }
}
