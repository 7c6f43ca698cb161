/// RFC 3339 timestamps as written in the policy file, converted to UTC with integer arithmetic.
public enum PolicyTimestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`; `T` and `Z` may be lowercase.
    ///
    /// The date must exist in the proleptic Gregorian calendar and the time must be 00:00:00 to
    /// 23:59:59 (leap seconds are not accepted). Fraction digits beyond nanoseconds are dropped
    /// (rounding toward the past). No range check beyond the four-digit year: see
    /// `PolicyLimits.timestampSecondsMax` for the range the policy file accepts.
    public static func parse(_ text: some StringProtocol) -> Timestamp? {
        let bytes = Array(text.utf8)
        var index = 0

        func digits(_ count: Int) -> Int64? {
            guard index + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for offset in 0..<count {
                let byte = bytes[index + offset]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }

        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              expect("Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"),
              let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var nanoseconds: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var count = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if count < 9 { nanoseconds = nanoseconds * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                count += 1
                index += 1
            }
            guard count > 0 else { return nil }
            for _ in min(count, 9)..<9 { nanoseconds *= 10 }
        }

        var offsetSeconds: Int64 = 0
        if expect("Zz") {
            offsetSeconds = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let negative = bytes[index] == UInt8(ascii: "-")
            index += 1
            guard let offsetHour = digits(2), expect(":"), let offsetMinute = digits(2),
                  offsetHour <= 23, offsetMinute <= 59
            else { return nil }
            offsetSeconds = (offsetHour * 3_600 + offsetMinute * 60) * (negative ? -1 : 1)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }

        let days = CivilDate(year: year, month: month, day: day).daysSinceEpoch
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offsetSeconds
        // Years after 2262 (and before 1678) do not fit Int64 nanoseconds: saturate rather than
        // trap, so that the caller reports them as out of range like any other late time.
        let (scaled, scaleOverflow) = seconds.multipliedReportingOverflow(by: Timestamp.nanosecondsPerSecond)
        let (total, addOverflow) = scaled.addingReportingOverflow(nanoseconds)
        guard !scaleOverflow, !addOverflow else {
            return Timestamp(nanosecondsSinceEpoch: seconds < 0 ? Int64.min : Int64.max)
        }
        return Timestamp(nanosecondsSinceEpoch: total)
    }
}
