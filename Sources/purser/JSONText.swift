import PurserLedger
import PurserWire

extension JSONText {
    /// A reply's fields in schema order; repeated string fields become lists named in the plural
    /// (`tag` → `tags`), repeated numbers lists under their own name.
    static func object(of message: WireMessage) -> JSONText {
        var json = JSONText()
        for spec in MessageSchema.fields(of: message.type) {
            let values = message.values(spec.name)
            guard !values.isEmpty else { continue }
            if spec.repeated {
                let numbers = values.compactMap { value -> String? in
                    if case .int64(let number) = value { return String(number) }
                    return nil
                }
                if numbers.count == values.count {
                    // A list of counts is named for what it is already (`batch_size_histogram`).
                    json.add(spec.name, raw: "[" + numbers.joined(separator: ",") + "]")
                } else {
                    json.add(spec.name + "s", message.strings(spec.name))
                }
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
