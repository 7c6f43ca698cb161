/// A point in time as integer nanoseconds since the Unix epoch (UTC).
///
/// Purser never uses floating point for time or money. Nanoseconds in an `Int64` reach the year
/// 2262, which is far beyond any policy date we accept (see `PolicyLimits.timestampSecondsMax`).
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanosecondsSinceEpoch: Int64

    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    public init(secondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = secondsSinceEpoch * Timestamp.nanosecondsPerSecond
    }

    public static let nanosecondsPerSecond: Int64 = 1_000_000_000
    public static let nanosecondsPerMillisecond: Int64 = 1_000_000
    public static let zero = Timestamp(nanosecondsSinceEpoch: 0)

    /// Whole seconds, rounded toward negative infinity.
    public var secondsSinceEpoch: Int64 {
        let (quotient, remainder) = nanosecondsSinceEpoch.quotientAndRemainder(dividingBy: Timestamp.nanosecondsPerSecond)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// Whole UTC days since 1970-01-01, rounded toward negative infinity.
    public var daysSinceEpoch: Int64 {
        let seconds = secondsSinceEpoch
        return seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    }

    public func adding(nanoseconds: Int64) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch + nanoseconds)
    }

    public func adding(seconds: Int64) -> Timestamp {
        adding(nanoseconds: seconds * Timestamp.nanosecondsPerSecond)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    /// RFC 3339 in UTC with second precision, e.g. `2026-11-22T21:15:00Z`.
    public var description: String {
        let days = daysSinceEpoch
        let secondOfDay = secondsSinceEpoch - days * 86_400
        let date = CivilDate(daysSinceEpoch: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))T"
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
    }
}

/// A proleptic Gregorian calendar date in UTC, computed with integer arithmetic only.
///
/// The conversions follow Howard Hinnant's `days_from_civil` / `civil_from_days`, which are exact
/// for every date we can represent; no Foundation `Calendar` (and no time zone database) is involved.
public struct CivilDate: Hashable, Sendable {
    public var year: Int64
    public var month: Int64   // 1...12
    public var day: Int64     // 1...31

    public init(year: Int64, month: Int64, day: Int64) {
        self.year = year
        self.month = month
        self.day = day
    }

    public init(daysSinceEpoch: Int64) {
        let shifted = daysSinceEpoch + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthPrime = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthPrime + 2) / 5 + 1
        month = monthPrime < 10 ? monthPrime + 3 : monthPrime - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    public var daysSinceEpoch: Int64 {
        let adjustedYear = month <= 2 ? year - 1 : year
        let era = (adjustedYear >= 0 ? adjustedYear : adjustedYear - 399) / 400
        let yearOfEra = adjustedYear - era * 400
        let monthPrime = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthPrime + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
