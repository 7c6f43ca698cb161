/// A decoded payload: its type, the client's correlation id, and its known fields.
///
/// This is the generic form both directions share; `WireRequest` and the reply builders give it
/// types. Unknown tags were skipped when decoding, so a message holds only what its schema knows.
///
/// Values are kept in one slot per field of the schema, in schema (ascending tag) order, rather
/// than in a dictionary keyed by name: a dictionary cost a hash of the name per field set or read
/// and one array allocation per field, about an eighth of the daemon's CPU under load. A message is
/// now one allocation, and a field is found by its tag or by comparing short names.
public struct WireMessage: Hashable, Sendable {
    public var type: MessageType
    public var correlationId: UInt64
    /// One slot per entry of `MessageSchema.fields(of: type)`, at the same index.
    var slots: [FieldSlot]

    public init(type: MessageType, correlationId: UInt64) {
        self.type = type
        self.correlationId = correlationId
        self.slots = Array(repeating: .absent, count: MessageSchema.fields(of: type).count)
    }

    public init(type: MessageType, correlationId: UInt64, fields: [String: [FieldValue]]) {
        self.init(type: type, correlationId: correlationId)
        self.fields = fields
    }

    /// Field name → values in arrival order (one value unless the field is repeated). Built on
    /// demand, for tools and tests; the daemon reads and writes fields one at a time. Setting a
    /// name the schema does not know does nothing, as decoding skips unknown tags.
    public var fields: [String: [FieldValue]] {
        get {
            var fields: [String: [FieldValue]] = [:]
            for (index, spec) in MessageSchema.fields(of: type).enumerated() where slots[index] != .absent {
                fields[spec.name] = slots[index].values
            }
            return fields
        }
        set {
            slots = Array(repeating: .absent, count: slots.count)
            for (name, values) in newValue {
                guard let index = MessageSchema.index(of: name, in: type) else { continue }
                slots[index] = FieldSlot(values)
            }
        }
    }

    /// The values of `name` in arrival order; empty when absent or unknown.
    public func values(_ name: String) -> [FieldValue] {
        guard let index = MessageSchema.index(of: name, in: type) else { return [] }
        return slots[index].values
    }

    public func string(_ name: String) -> String? {
        if case .string(let value) = first(name) { return value }
        return nil
    }

    public func strings(_ name: String) -> [String] {
        values(name).compactMap { if case .string(let value) = $0 { return value } else { return nil } }
    }

    public func int64(_ name: String) -> Int64? {
        if case .int64(let value) = first(name) { return value }
        return nil
    }

    public func bool(_ name: String) -> Bool? {
        if case .bool(let value) = first(name) { return value }
        return nil
    }

    public mutating func set(_ name: String, _ value: String?) {
        setSlot(name, value.map { .single(.string($0)) } ?? .absent)
    }

    public mutating func set(_ name: String, _ value: Int64?) {
        setSlot(name, value.map { .single(.int64($0)) } ?? .absent)
    }

    public mutating func set(_ name: String, _ value: Bool?) {
        setSlot(name, value.map { .single(.bool($0)) } ?? .absent)
    }

    public mutating func set(_ name: String, _ values: [String]) {
        setSlot(name, FieldSlot(values.map { .string($0) }))
    }

    public mutating func set(_ name: String, _ values: [Int64]) {
        setSlot(name, FieldSlot(values.map { .int64($0) }))
    }

    private func first(_ name: String) -> FieldValue? {
        guard let index = MessageSchema.index(of: name, in: type) else { return nil }
        switch slots[index] {
        case .absent: return nil
        case .single(let value): return value
        case .repeated(let values): return values.first
        }
    }

    /// Setting a field the schema does not have is a programming error in the caller.
    private mutating func setSlot(_ name: String, _ slot: FieldSlot) {
        guard let index = MessageSchema.index(of: name, in: type) else {
            preconditionFailure("\(type.name) has no field \(name)")
        }
        slots[index] = slot
    }
}

/// The values of one field. One value is stored inline: only a repeated field with two or more
/// values costs an array. Kept normalized (never `repeated` with fewer than two values) so that
/// equal messages compare equal.
enum FieldSlot: Hashable, Sendable {
    case absent
    case single(FieldValue)
    case repeated([FieldValue])

    init(_ values: [FieldValue]) {
        switch values.count {
        case 0: self = .absent
        case 1: self = .single(values[0])
        default: self = .repeated(values)
        }
    }

    var values: [FieldValue] {
        switch self {
        case .absent: return []
        case .single(let value): return [value]
        case .repeated(let values): return values
        }
    }

    mutating func append(_ value: FieldValue) {
        switch self {
        case .absent: self = .single(value)
        case .single(let first): self = .repeated([first, value])
        case .repeated(var values):
            self = .absent
            values.append(value)
            self = .repeated(values)
        }
    }
}
