/// The type byte of a payload. A reply's type is its request's type with the high bit set.
public enum MessageType: UInt8, CaseIterable, Hashable, Sendable {
    case authorize = 0x01
    case settle = 0x02
    case release = 0x03
    case ping = 0x04
    case reload = 0x10
    case credit = 0x11
    case status = 0x12
    case usage = 0x13
    case error = 0x7F
    case authorizeReply = 0x81
    case settleReply = 0x82
    case releaseReply = 0x83
    case pong = 0x84
    case reloadReply = 0x90
    case creditReply = 0x91
    case statusReply = 0x92
    case usageReply = 0x93

    /// True for the messages a client sends.
    public var isRequest: Bool { rawValue < 0x7F }

    /// Admin messages are accepted on the admin socket only.
    public var isAdmin: Bool {
        switch self {
        case .reload, .credit, .status, .usage: return true
        default: return false
        }
    }

    /// The reply type of a request type.
    public var replyType: MessageType? {
        isRequest ? MessageType(rawValue: rawValue | 0x80) : nil
    }

    /// The snake_case name used in docs and test vectors.
    public var name: String {
        switch self {
        case .authorize: return "authorize"
        case .settle: return "settle"
        case .release: return "release"
        case .ping: return "ping"
        case .reload: return "reload"
        case .credit: return "credit"
        case .status: return "status"
        case .usage: return "usage"
        case .error: return "error"
        case .authorizeReply: return "authorize_reply"
        case .settleReply: return "settle_reply"
        case .releaseReply: return "release_reply"
        case .pong: return "pong"
        case .reloadReply: return "reload_reply"
        case .creditReply: return "credit_reply"
        case .statusReply: return "status_reply"
        case .usageReply: return "usage_reply"
        }
    }
}
