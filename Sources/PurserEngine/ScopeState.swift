import PurserPolicy

/// Spend in one period of one scope.
public struct PeriodCounter: Hashable, Sendable {
    /// `PeriodIndexes.index(of:)` of the period these amounts belong to.
    public var periodIndex: Int64
    public var spentMicros: Int64
    public var reservedMicros: Int64

    public init(periodIndex: Int64 = 0, spentMicros: Int64 = 0, reservedMicros: Int64 = 0) {
        self.periodIndex = periodIndex
        self.spentMicros = spentMicros
        self.reservedMicros = reservedMicros
    }
}

/// Everything mutable about one scope, kept in one record so that a decision touches few pages.
///
/// Only the current day and month are kept: when the clock enters a new period, `rolled(to:)`
/// starts that period at zero. Earlier periods live on in the ledger.
public struct ScopeState: Hashable, Sendable {
    public var total: PeriodCounter
    public var month: PeriodCounter
    public var day: PeriodCounter
    /// Open reservations (keys and tenants only).
    public var inflightCount: Int64
    /// GCRA theoretical arrival times in nanoseconds since the epoch; 0 means "never used".
    public var requestsTheoreticalArrivalNanoseconds: Int64
    public var tokensTheoreticalArrivalNanoseconds: Int64
    /// Prepaid balance (tenants only): lifetime credits minus prepaid charges. May go negative
    /// through a recorded overdraft.
    public var balanceMicros: Int64
    public var balanceReservedMicros: Int64
    /// Lifetime credits, kept so that reconciliation can match the ledger's credit events.
    public var creditedMicros: Int64

    public init(
        total: PeriodCounter = PeriodCounter(),
        month: PeriodCounter = PeriodCounter(),
        day: PeriodCounter = PeriodCounter(),
        inflightCount: Int64 = 0,
        requestsTheoreticalArrivalNanoseconds: Int64 = 0,
        tokensTheoreticalArrivalNanoseconds: Int64 = 0,
        balanceMicros: Int64 = 0,
        balanceReservedMicros: Int64 = 0,
        creditedMicros: Int64 = 0
    ) {
        self.total = total
        self.month = month
        self.day = day
        self.inflightCount = inflightCount
        self.requestsTheoreticalArrivalNanoseconds = requestsTheoreticalArrivalNanoseconds
        self.tokensTheoreticalArrivalNanoseconds = tokensTheoreticalArrivalNanoseconds
        self.balanceMicros = balanceMicros
        self.balanceReservedMicros = balanceReservedMicros
        self.creditedMicros = creditedMicros
    }

    /// A fresh record for a scope never seen before, already in the current periods.
    public static func empty(at indexes: PeriodIndexes) -> ScopeState {
        ScopeState(month: PeriodCounter(periodIndex: indexes.month), day: PeriodCounter(periodIndex: indexes.day))
    }

    /// This state with the day and month counters moved to the periods of `indexes`. A counter
    /// from an earlier period restarts at zero; reservations made in it are no longer counted
    /// there, and `Reservation.reservedIndexes` makes sure they are not subtracted later either.
    public func rolled(to indexes: PeriodIndexes) -> ScopeState {
        var copy = self
        if copy.month.periodIndex != indexes.month {
            copy.month = PeriodCounter(periodIndex: indexes.month)
        }
        if copy.day.periodIndex != indexes.day {
            copy.day = PeriodCounter(periodIndex: indexes.day)
        }
        return copy
    }

    public func counter(for period: BudgetPeriod) -> PeriodCounter {
        switch period {
        case .total: return total
        case .month: return month
        case .day: return day
        }
    }

    mutating func modifyCounters(_ body: (BudgetPeriod, inout PeriodCounter) -> Void) {
        body(.total, &total)
        body(.month, &month)
        body(.day, &day)
    }

    /// Balance not yet reserved: what the next prepaid request may draw on.
    public var balanceAvailableMicros: Int64 { balanceMicros - balanceReservedMicros }
}
