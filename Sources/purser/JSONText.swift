import PurserWire

/// A JSON object writer that keeps keys in the order given, so output reads like the docs.
struct JSONText {
    private var members: [String] = []

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    mutating func add(_ key: String, raw value: String) {
        members.append("\(Self.quoted(key)):\(value)")
    }

    mutating func add(_ key: String, _ value: String) { add(key, raw: Self.quoted(value)) }
    mutating func add(_ key: String, _ value: Int64) { add(key, raw: String(value)) }
    mutating func add(_ key: String, _ value: Bool) { add(key, raw: value ? "true" : "false") }
    mutating func add(_ key: String, _ values: [String]) { add(key, raw: "[" + values.map(Self.quoted).joined(separator: ",") + "]") }

    var text: String { "{" + members.joined(separator: ",") + "}" }

    /// A reply's fields in schema order; repeated fields become lists named in the plural.
    static func object(of message: WireMessage) -> JSONText {
        var json = JSONText()
        for spec in MessageSchema.fields(of: message.type) {
            guard let values = message.fields[spec.name] else { continue }
            if spec.repeated {
                json.add(spec.name + "s", message.strings(spec.name))
                continue
            }
            switch values[0] {
            case .string(let value): json.add(spec.name, value)
            case .int64(let value): json.add(spec.name, value)
            case .bool(let value): json.add(spec.name, value)
            }
        }
        return json
    }
}
