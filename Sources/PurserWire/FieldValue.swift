/// How a field's value is encoded.
public enum FieldKind: Hashable, Sendable {
    /// UTF-8, at most `bytesMax` bytes.
    case string(bytesMax: Int)
    /// Signed 64-bit, big-endian, exactly 8 bytes.
    case int64
    /// One byte, 0 or 1.
    case bool
}

/// A decoded field value.
public enum FieldValue: Hashable, Sendable {
    case string(String)
    case int64(Int64)
    case bool(Bool)
}

/// One field of one message type, as documented in docs/protocol.md.
public struct FieldSpec: Hashable, Sendable {
    public var tag: UInt16
    public var name: String
    public var kind: FieldKind
    public var repeated: Bool
    public var required: Bool

    public init(_ tag: UInt16, _ name: String, _ kind: FieldKind, repeated: Bool = false, required: Bool = false) {
        self.tag = tag
        self.name = name
        self.kind = kind
        self.repeated = repeated
        self.required = required
    }
}
