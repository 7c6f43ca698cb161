/// Random valid policies written in random styles: block and flow collections, indentless
/// sequences, plain, single- and double-quoted scalars (with escapes), comments, blank lines, and
/// JSON. Used to check that the fast parser and Yams read them alike.
enum PolicyTextGenerator {
    /// A value of the policy's structure, before it is written out.
    indirect enum Value {
        /// `text` is what the scalar must read as; `plainAllowed` says whether it may be written bare.
        case scalar(text: String, plainAllowed: Bool, isString: Bool)
        case mapping([(String, Value)])
        case list([Value])
    }

    static func policy(_ random: inout SeededRandom) -> String {
        let value = structure(&random)
        if random.chance(15) { return json(value, indent: 0, &random) + "\n" }
        var out = ""
        if random.chance(20) { out += "# generated policy\n" }
        if random.chance(10) { out += "---\n" }
        let step = random.chance(70) ? 2 : 4
        writeBlockMapping(value, indent: 0, step: step, into: &out, &random)
        return out
    }

    // MARK: - Structure

    static func string(_ text: String) -> Value { .scalar(text: text, plainAllowed: true, isString: true) }
    static func number(_ value: Int64) -> Value { .scalar(text: String(value), plainAllowed: true, isString: false) }
    static func boolean(_ value: Bool) -> Value { .scalar(text: value ? "true" : "false", plainAllowed: true, isString: false) }
    /// A string that must be quoted: it would read as a number or contains characters plain scalars cannot hold.
    static func quotedOnly(_ text: String) -> Value { .scalar(text: text, plainAllowed: false, isString: true) }

    static func budgets(_ random: inout SeededRandom) -> Value {
        .list((0..<(1 + random.next(3))).map { _ in
            .mapping([("period", string(["month", "day", "total"][random.next(3)])), ("cap_micros", number(Int64(random.next(1_000_000_000))))])
        })
    }

    static func rateLimits(_ random: inout SeededRandom) -> Value {
        var fields: [(String, Value)] = [("rpm", number(Int64(1 + random.next(10_000))))]
        if random.chance(50) { fields.append(("tpm", number(Int64(1 + random.next(1_000_000))))) }
        if random.chance(30) { fields.append(("max_inflight", number(Int64(1 + random.next(100))))) }
        return .mapping(fields)
    }

    static func structure(_ random: inout SeededRandom) -> Value {
        var top: [(String, Value)] = [("version", number(1))]
        if random.chance(50) {
            top.append(("defaults", .mapping([("reservation_ttl", string(["10m", "1h30m", "30s"][random.next(3)])),
                                              ("reservation_retention", string("24h"))])))
        }
        let models = ["gpt-5.4", "gpt-5.4-mini", "claude-sonnet-4-6", "m"].prefix(1 + random.next(4))
        top.append(("prices", .mapping(models.map { ($0, .mapping([("input", number(Int64(random.next(5_000_000)))),
                                                                    ("output", number(Int64(random.next(5_000_000))))])) })))
        let planNames = ["free", "pro", "enterprise", "2024"].prefix(1 + random.next(4))
        top.append(("plans", .mapping(planNames.map { name in
            var fields: [(String, Value)] = [("models", .list([random.chance(50) ? string("*") : string(models[random.next(models.count)])]))]
            if random.chance(50) { fields.append(("rate_limits", rateLimits(&random))) }
            if random.chance(50) { fields.append(("budgets", budgets(&random))) }
            return (name, .mapping(fields))
        })))
        let displayNames = ["Acme Corp", "Café Ünïcode", "O'Brien & Sons", "a: b", "50% off", "#1 customer", "x\"y"]
        let tenantNames = (0..<(1 + random.next(5))).map { "t\($0)" }
        top.append(("tenants", .mapping(tenantNames.map { name in
            var fields: [(String, Value)] = []
            if random.chance(50) {
                let display = displayNames[random.next(displayNames.count)]
                let plain = display.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0 == " " }
                fields.append(("name", .scalar(text: display, plainAllowed: plain, isString: true)))
            }
            let plan = planNames[random.next(planNames.count)]
            fields.append(("plan", plan == "2024" ? quotedOnly(plan) : string(plan)))
            if random.chance(40) { fields.append(("budgets", budgets(&random))) }
            if random.chance(30) { fields.append(("prepaid", boolean(random.chance(50)))) }
            if random.chance(30) { fields.append(("rate_limits", rateLimits(&random))) }
            if random.chance(20) { fields.append(("tags", .mapping([("summarize", .mapping([("budgets", budgets(&random))]))]))) }
            if random.chance(50) { fields.shuffle(using: &random) }
            return (name, .mapping(fields))
        })))
        var keys: [Value] = []
        for number in 0..<(1 + random.next(6)) {
            let hex = String(repeating: String(Array("0123456789abcdef")[number]), count: 64)
            var fields: [(String, Value)] = [("id", string("key_\(number)")), ("tenant", string(tenantNames[random.next(tenantNames.count)])),
                                              ("sha256", string(hex))]
            if random.chance(30) { fields.append(("disabled", boolean(random.chance(50)))) }
            if random.chance(30) { fields.append(("expires_at", string("2027-06-30T00:00:00Z"))) }
            if random.chance(30) { fields.append(("models", .list([string("gpt-5.4*"), string(models[0])]))) }
            if random.chance(30) { fields.append(("budgets", budgets(&random))) }
            if random.chance(20) { fields.append(("rate_limits", rateLimits(&random))) }
            if random.chance(50) { fields.shuffle(using: &random) }
            keys.append(.mapping(fields))
        }
        top.append(("keys", .list(keys)))
        if random.chance(20) { top.append(("tags", .mapping([("batch-eval", .mapping([("budgets", budgets(&random))]))]))) }
        if random.chance(50) { top.shuffle(using: &random) }
        return .mapping(top)
    }

    // MARK: - Writing

    static func comment(_ random: inout SeededRandom) -> String {
        random.chance(15) ? "  # note: \(random.next(100))" : ""
    }

    static func blankLines(_ random: inout SeededRandom) -> String {
        if random.chance(8) { return "\n" }
        if random.chance(5) { return "# a comment line\n" }
        return ""
    }

    static func scalar(_ text: String, plainAllowed: Bool, isString: Bool, _ random: inout SeededRandom) -> String {
        if !isString { return text }
        // `*` would start an alias, `#` a comment, and so on: such text must be quoted.
        let startsWithIndicator = text.first.map { "-?:,[]{}#&*!|>'\"%@`".contains($0) } ?? true
        let safePlain = plainAllowed && !startsWithIndicator && !text.contains("\t") && !text.contains("\"") && !text.contains("'") && !text.contains(": ")
            && !text.contains(" #") && !text.hasPrefix("#")
        switch random.next(safePlain ? 4 : 2) {
        case 0: return singleQuoted(text)
        case 1: return doubleQuoted(text, &random)
        default: return text
        }
    }

    static func singleQuoted(_ text: String) -> String {
        guard !text.contains("\t") else { return "\"" + text.replacingOccurrences(of: "\t", with: "\\t") + "\"" }
        return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func doubleQuoted(_ text: String, _ random: inout SeededRandom) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\t": out += random.chance(50) ? "\\t" : "\\x09"
            case "A": out += random.chance(30) ? "\\u0041" : "A"
            case "é": out += random.chance(50) ? "\\u00e9" : "é"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func key(_ text: String, _ random: inout SeededRandom) -> String {
        if text == "2024" { return random.chance(50) ? text : "\"2024\"" }
        switch random.next(6) {
        case 0: return singleQuoted(text)
        case 1: return doubleQuoted(text, &random)
        default: return text
        }
    }

    static func flow(_ value: Value, _ random: inout SeededRandom) -> String {
        switch value {
        case .scalar(let text, let plainAllowed, let isString):
            return scalar(text, plainAllowed: plainAllowed, isString: isString, &random)
        case .mapping(let fields):
            let spaced = random.chance(70)
            let inner = fields.map { key($0.0, &random) + ": " + flow($0.1, &random) }.joined(separator: random.chance(80) ? ", " : " ,  ")
            return fields.isEmpty ? "{}" : (spaced ? "{ " + inner + " }" : "{" + inner + "}")
        case .list(let items):
            return "[" + items.map { flow($0, &random) }.joined(separator: ", ") + "]"
        }
    }

    static func writeBlockMapping(_ value: Value, indent: Int, step: Int, into out: inout String, _ random: inout SeededRandom) {
        guard case .mapping(let fields) = value else { return }
        let pad = String(repeating: " ", count: indent)
        for (name, field) in fields {
            out += blankLines(&random)
            writeField(pad + key(name, &random) + (random.chance(5) ? " :" : ":"), field, indent: indent, step: step, into: &out, &random)
        }
    }

    /// `prefix` is everything before the value on its line (`key:` or `- key:`), at `indent`.
    static func writeField(_ prefix: String, _ field: Value, indent: Int, step: Int, into out: inout String, _ random: inout SeededRandom) {
        switch field {
        case .scalar:
            out += prefix + " " + flow(field, &random) + comment(&random) + "\n"
        case .mapping(let fields):
            if fields.isEmpty || random.chance(40) {
                out += prefix + " " + flow(field, &random) + comment(&random) + "\n"
            } else {
                out += prefix + comment(&random) + "\n"
                writeBlockMapping(field, indent: indent + step, step: step, into: &out, &random)
            }
        case .list(let items):
            if items.isEmpty || random.chance(40) {
                out += prefix + " " + flow(field, &random) + comment(&random) + "\n"
            } else {
                out += prefix + comment(&random) + "\n"
                let itemIndent = random.chance(30) ? indent : indent + step
                writeBlockList(items, indent: itemIndent, step: step, into: &out, &random)
            }
        }
    }

    static func writeBlockList(_ items: [Value], indent: Int, step: Int, into out: inout String, _ random: inout SeededRandom) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            switch item {
            case .mapping(let fields) where !fields.isEmpty && random.chance(70):
                // `- first: x` then the other fields under `first`.
                let inner = indent + 2
                let innerPad = String(repeating: " ", count: inner)
                for (offset, (name, field)) in fields.enumerated() {
                    let linePrefix = (offset == 0 ? pad + "- " : innerPad) + key(name, &random) + ":"
                    writeField(linePrefix, field, indent: inner, step: step, into: &out, &random)
                }
            default:
                out += pad + "- " + flow(item, &random) + comment(&random) + "\n"
            }
        }
    }

    static func json(_ value: Value, indent: Int, _ random: inout SeededRandom) -> String {
        let pad = String(repeating: " ", count: indent + 2)
        let closePad = String(repeating: " ", count: indent)
        switch value {
        case .scalar(let text, _, let isString):
            guard isString else { return text }
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\t": out += "\\t"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        case .mapping(let fields):
            if fields.isEmpty { return "{}" }
            if random.chance(30) {
                return "{" + fields.map { "\"\($0.0)\": " + json($0.1, indent: indent, &random) }.joined(separator: ", ") + "}"
            }
            return "{\n" + fields.map { pad + "\"\($0.0)\": " + json($0.1, indent: indent + 2, &random) }.joined(separator: ",\n")
                + "\n" + closePad + "}"
        case .list(let items):
            if items.isEmpty { return "[]" }
            if random.chance(30) {
                return "[" + items.map { json($0, indent: indent, &random) }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { pad + json($0, indent: indent + 2, &random) }.joined(separator: ",\n") + "\n" + closePad + "]"
        }
    }
}
