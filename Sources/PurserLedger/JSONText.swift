/// A JSON object writer that keeps keys in the order given, so output reads like the docs. Used
/// for every JSON Purser prints, so the CLI and the admin socket render reports identically.
public struct JSONText: Sendable {
    private var members: [String] = []

    public init() {}

    public static func quoted(_ text: String) -> String {
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

    public mutating func add(_ key: String, raw value: String) {
        members.append("\(Self.quoted(key)):\(value)")
    }

    public mutating func add(_ key: String, _ value: String) { add(key, raw: Self.quoted(value)) }
    public mutating func add(_ key: String, _ value: Int64) { add(key, raw: String(value)) }
    public mutating func add(_ key: String, _ value: Bool) { add(key, raw: value ? "true" : "false") }
    public mutating func add(_ key: String, _ values: [String]) { add(key, raw: "[" + values.map(Self.quoted).joined(separator: ",") + "]") }
    public mutating func add(_ key: String, objects: [JSONText]) { add(key, raw: "[" + objects.map(\.text).joined(separator: ",") + "]") }

    public var text: String { "{" + members.joined(separator: ",") + "}" }
}
