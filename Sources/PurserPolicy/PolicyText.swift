/// Wording helpers shared by the policy validator's messages.
enum PolicyText {
    /// Values longer than this many Unicode scalars are cut short in messages.
    static let quotedScalarsMax = 64

    /// `text` in double quotes, with `"`, `\` and control or invisible characters escaped, cut
    /// short with `...` if long, so that a message always stays on one line.
    static func quoted(_ text: some StringProtocol) -> String {
        "\"" + escaped(text) + "\""
    }

    /// `text` with the escapes of `quoted(_:)`, without the quotes.
    static func escaped(_ text: some StringProtocol) -> String {
        // Names are short printable ASCII almost always: nothing to escape or cut.
        let utf8 = text.utf8
        if utf8.count <= quotedScalarsMax, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            return String(text)
        }
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == quotedScalarsMax {
                out += "..."
                break
            }
            count += 1
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                let value = scalar.value
                let invisible = value < 0x20 || (value >= 0x7f && value < 0xa0) || value == 0x2028 || value == 0x2029
                    || (value >= 0xE000 && value <= 0xF8FF) || value == 0xFEFF
                out += invisible ? "\\u{\(String(value, radix: 16))}" : String(scalar)
            }
        }
        return out
    }

    /// ` (did you mean "x"?)` when one of `candidates` is a likely misspelling of `word`, else "".
    static func suggestion(for word: String, among candidates: some Sequence<String>) -> String {
        let target = Array(word.lowercased().unicodeScalars)
        guard !target.isEmpty else { return "" }
        var best: (candidate: String, distance: Int)? = nil
        for candidate in candidates where candidate != word {
            let other = Array(candidate.lowercased().unicodeScalars)
            let threshold = max(1, min(3, max(target.count, other.count) / 3))
            guard abs(other.count - target.count) <= threshold else { continue }
            let distance = editDistance(target, other)
            if distance <= threshold, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best.map { " (did you mean \(quoted($0.candidate))?)" } ?? ""
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
    /// of adjacent characters each cost one.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }

    /// "1 budget", "9 budgets".
    static func count(_ value: Int, _ singular: String, _ plural: String) -> String {
        "\(value) \(value == 1 ? singular : plural)"
    }
}
