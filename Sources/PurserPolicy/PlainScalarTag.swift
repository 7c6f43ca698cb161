import Yams

/// The YAML 1.1 implicit tag of a plain scalar, decided by hand-written matchers that accept
/// exactly what `Yams.Resolver.default`'s regular expressions accept, in the same order.
///
/// Why: Yams resolves every scalar through `NSRegularExpression`, which made a 100,000-key policy
/// take seconds to compose, hash for duplicate detection and validate. Composing with
/// `Resolver.basic` (no rules) and classifying here gives the same tags at a fraction of the cost;
/// `PlainScalarTagTests` checks agreement with Yams on thousands of strings.
enum PlainScalarTag {
    static func of(_ text: String) -> Tag.Name {
        // Every tag but str needs its text to start with one of a few bytes: most names and ids
        // do not, and are told apart here without copying their bytes.
        if let first = text.utf8.first, !mayStartNonString(first) { return .str }
        // Plain decimal numbers (every limit and cap in a policy) match the int rule and no earlier one.
        let utf8 = text.utf8
        if let first = utf8.first, first != UInt8(ascii: "0") || utf8.count == 1, utf8.allSatisfy(isDigit) { return .int }
        let bytes = Array(text.utf8)
        if isBool(bytes) { return .bool }
        if isInt(bytes) { return .int }
        if isFloat(bytes) { return .float }
        if bytes == [UInt8(ascii: "<"), UInt8(ascii: "<")] { return .merge }
        if isNull(text) { return .null }
        if isTimestamp(bytes) { return .timestamp }
        if bytes == [UInt8(ascii: "=")] { return .value }
        return .str
    }

    private static let boolWords: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ]

    private static func isBool(_ bytes: [UInt8]) -> Bool {
        bytes.count <= 5 && boolWords.contains(String(decoding: bytes, as: UTF8.self))
    }

    /// The first bytes of bool words (y n t f o), numbers (sign, digit, dot), `<<`, null (`~`, n)
    /// and `=`.
    private static func mayStartNonString(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
             UInt8(ascii: "<"), UInt8(ascii: "~"), UInt8(ascii: "="),
             UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"),
             UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            return true
        default:
            return false
        }
    }

    /// Whether `of(text)` is `.null`: no bool, number or merge key looks like a null.
    static func isNull(_ text: String) -> Bool {
        text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }

    /// A cursor over the bytes with the few primitives the patterns need.
    private struct Cursor {
        let bytes: [UInt8]
        var index = 0
        var atEnd: Bool { index == bytes.count }
        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func takeSign() { _ = take(UInt8(ascii: "-")) || take(UInt8(ascii: "+")) }

        /// Consumes bytes while `predicate` holds; returns how many.
        @discardableResult
        mutating func takeWhile(_ predicate: (UInt8) -> Bool) -> Int {
            let start = index
            while let byte = current, predicate(byte) { index += 1 }
            return index - start
        }
    }

    private static let underscore = UInt8(ascii: "_")

    /// `[-+]?0b[0-1_]+ | [-+]?0o?[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
    private static func isInt(_ bytes: [UInt8]) -> Bool {
        var start = Cursor(bytes: bytes)
        start.takeSign()
        let afterSign = start
        // binary
        var cursor = afterSign
        if cursor.take(UInt8(ascii: "0")), cursor.take(UInt8(ascii: "b")),
           cursor.takeWhile({ $0 == 0x30 || $0 == 0x31 || $0 == underscore }) > 0, cursor.atEnd { return true }
        // octal, with or without the o
        cursor = afterSign
        if cursor.take(UInt8(ascii: "0")) {
            _ = cursor.take(UInt8(ascii: "o"))
            if cursor.takeWhile({ ($0 >= 0x30 && $0 <= 0x37) || $0 == underscore }) > 0, cursor.atEnd { return true }
        }
        // decimal
        cursor = afterSign
        if cursor.take(UInt8(ascii: "0")), cursor.atEnd { return true }
        cursor = afterSign
        if let first = cursor.current, first >= 0x31, first <= 0x39 {
            cursor.index += 1
            cursor.takeWhile { isDigit($0) || $0 == underscore }
            if cursor.atEnd { return true }
        }
        // hexadecimal
        cursor = afterSign
        if cursor.take(UInt8(ascii: "0")), cursor.take(UInt8(ascii: "x")), cursor.takeWhile({ isHex($0) || $0 == underscore }) > 0, cursor.atEnd {
            return true
        }
        // sexagesimal
        cursor = afterSign
        if let first = cursor.current, first >= 0x31, first <= 0x39 {
            cursor.index += 1
            cursor.takeWhile { isDigit($0) || $0 == underscore }
            return takeSexagesimalGroups(&cursor) && cursor.atEnd
        }
        return false
    }

    /// `(?::[0-5]?[0-9])+`, greedy as a regex would be where it matters (each group ends before a
    /// colon or the end).
    private static func takeSexagesimalGroups(_ cursor: inout Cursor) -> Bool {
        var groups = 0
        while cursor.take(UInt8(ascii: ":")) {
            let digits = cursor.takeWhile(isDigit)
            guard digits == 1 || (digits == 2 && cursor.bytes[cursor.index - 2] <= UInt8(ascii: "5")) else { return false }
            groups += 1
        }
        return groups > 0
    }

    /// `[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)? | \.[0-9_]+(?:[eE][-+][0-9]+)? |
    ///  [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)`
    private static func isFloat(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        if [".nan", ".NaN", ".NAN"].contains(text) { return true }
        var cursor = Cursor(bytes: bytes)
        cursor.takeSign()
        let afterSign = cursor
        if [".inf", ".Inf", ".INF"].contains(String(decoding: bytes[afterSign.index...], as: UTF8.self)) { return true }
        // [0-9][0-9_]* (\.[0-9_]*)? ([eE][-+]?[0-9]+)?
        if let first = cursor.current, isDigit(first) {
            cursor.index += 1
            cursor.takeWhile { isDigit($0) || $0 == underscore }
            let afterInteger = cursor
            if cursor.take(UInt8(ascii: ".")) { cursor.takeWhile { isDigit($0) || $0 == underscore } }
            if takeExponent(&cursor, signRequired: false), cursor.atEnd { return true }
            // sexagesimal float: [0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            var sexagesimal = afterInteger
            if takeSexagesimalGroups(&sexagesimal), sexagesimal.take(UInt8(ascii: ".")) {
                sexagesimal.takeWhile { isDigit($0) || $0 == underscore }
                if sexagesimal.atEnd { return true }
            }
        }
        // \.[0-9_]+([eE][-+][0-9]+)?  (no sign allowed before the dot)
        cursor = Cursor(bytes: bytes)
        if cursor.take(UInt8(ascii: ".")), cursor.takeWhile({ isDigit($0) || $0 == underscore }) > 0,
           takeExponent(&cursor, signRequired: true), cursor.atEnd {
            return true
        }
        return false
    }

    /// An optional exponent; returns false only when an exponent starts but is malformed.
    private static func takeExponent(_ cursor: inout Cursor, signRequired: Bool) -> Bool {
        guard cursor.current == UInt8(ascii: "e") || cursor.current == UInt8(ascii: "E") else { return true }
        cursor.index += 1
        let signed = cursor.take(UInt8(ascii: "-")) || cursor.take(UInt8(ascii: "+"))
        if signRequired && !signed { return false }
        return cursor.takeWhile(isDigit) > 0
    }

    /// `[0-9]{4}-[0-9]{2}-[0-9]{2}` or the date-time form with `[Tt]` or blanks, seconds fraction
    /// and zone.
    private static func isTimestamp(_ bytes: [UInt8]) -> Bool {
        var cursor = Cursor(bytes: bytes)
        func digits(_ minimum: Int, _ maximum: Int) -> Bool {
            let count = cursor.takeWhile(isDigit)
            return count >= minimum && count <= maximum
        }
        guard digits(4, 4), cursor.take(UInt8(ascii: "-")) else { return false }
        let afterYear = cursor
        if digits(2, 2), cursor.take(UInt8(ascii: "-")), digits(2, 2), cursor.atEnd { return true }
        cursor = afterYear
        guard digits(1, 2), cursor.take(UInt8(ascii: "-")), digits(1, 2) else { return false }
        if !(cursor.take(UInt8(ascii: "T")) || cursor.take(UInt8(ascii: "t"))) {
            guard cursor.takeWhile({ $0 == 0x20 || $0 == 0x09 }) > 0 else { return false }
        }
        guard digits(1, 2), cursor.take(UInt8(ascii: ":")), digits(2, 2), cursor.take(UInt8(ascii: ":")), digits(2, 2) else { return false }
        if cursor.take(UInt8(ascii: ".")) { cursor.takeWhile(isDigit) }
        // Blanks are allowed only before a zone.
        let blanks = cursor.takeWhile { $0 == 0x20 || $0 == 0x09 }
        if cursor.atEnd { return blanks == 0 }
        if cursor.take(UInt8(ascii: "Z")) { return cursor.atEnd }
        guard cursor.take(UInt8(ascii: "-")) || cursor.take(UInt8(ascii: "+")), digits(1, 2) else { return false }
        if cursor.take(UInt8(ascii: ":")) { guard digits(2, 2) else { return false } }
        return cursor.atEnd
    }
}
