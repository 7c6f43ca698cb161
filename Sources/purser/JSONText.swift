import PurserLedger
import PurserWire

extension JSONText {
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
