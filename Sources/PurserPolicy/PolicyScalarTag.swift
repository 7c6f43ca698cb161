import Yams

/// The tags the validator tells apart, in one byte: a 100,000-key file has millions of scalars.
enum PolicyScalarTag: UInt8, Sendable {
    /// Not yet resolved: a plain scalar is classified by `PlainScalarTag`, any other is a string.
    case implicit
    case str, int, float, bool, null, timestamp, merge, value
    /// Any other tag (`!!binary`, `!custom`): none of the above.
    case other

    init(_ name: Tag.Name) {
        switch name {
        case .str: self = .str
        case .int: self = .int
        case .float: self = .float
        case .bool: self = .bool
        case .null: self = .null
        case .timestamp: self = .timestamp
        case .merge: self = .merge
        case .value: self = .value
        default: self = .other
        }
    }

    /// The name of a resolved tag; `other` has a name of its own that no check compares with.
    var name: Tag.Name {
        switch self {
        case .implicit, .str: return .str
        case .int: return .int
        case .float: return .float
        case .bool: return .bool
        case .null: return .null
        case .timestamp: return .timestamp
        case .merge: return .merge
        case .value: return .value
        case .other: return Tag.Name(rawValue: "!other")
        }
    }
}
