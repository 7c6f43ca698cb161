/// Durations as written in the policy file: `30s`, `10m`, `1h`, `7d`, or combinations such as
/// `1h30m` and `1d12h`. Units are `d`, `h`, `m` and `s`, each at most once and in that order;
/// every unit carries at least one decimal digit. No spaces, signs, fractions or bare numbers.
public enum PolicyDuration {
    /// The duration in seconds, or `nil` if `text` is not a duration or overflows `Int64`.
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let units: [(unit: UInt8, seconds: Int64)] = [
            (UInt8(ascii: "d"), 86_400), (UInt8(ascii: "h"), 3_600), (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
        ]
        var total: Int64 = 0
        var nextUnit = 0            // index into `units` of the smallest unit still allowed
        var number: Int64 = 0
        var digits = 0
        var sawUnit = false
        for byte in text.utf8 {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                let (times10, overflow1) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                number = sum
                digits += 1
                continue
            }
            guard digits > 0 else { return nil }
            guard let index = units.firstIndex(where: { $0.unit == byte }), index >= nextUnit else { return nil }
            let (product, overflow1) = number.multipliedReportingOverflow(by: units[index].seconds)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { return nil }
            total = sum
            nextUnit = index + 1
            number = 0
            digits = 0
            sawUnit = true
        }
        guard sawUnit, digits == 0 else { return nil }
        return total
    }

    /// The canonical spelling of a non-negative number of seconds: `0s`, `90s` → `1m30s`,
    /// `86400` → `1d`. `parse(format(x)) == x` for every `x >= 0`.
    public static func format(_ seconds: Int64) -> String {
        guard seconds > 0 else { return "0s" }
        var rest = seconds
        var out = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] {
            let count = rest / size
            rest -= count * size
            if count > 0 { out += "\(count)\(unit)" }
        }
        return out
    }
}
