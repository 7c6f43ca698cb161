/// The UTC calendar period a budget's cap applies to. A new period starts at zero spend; no reset
/// job is involved because the current period is computed from the clock on every decision.
public enum BudgetPeriod: String, CaseIterable, Hashable, Sendable {
    case total
    case month
    case day
}

/// A spend cap over one period, in integer micros (1 USD = 1,000,000 micros).
public struct Budget: Hashable, Sendable {
    public var period: BudgetPeriod
    public var capMicros: Int64

    public init(period: BudgetPeriod, capMicros: Int64) {
        self.period = period
        self.capMicros = capMicros
    }
}
