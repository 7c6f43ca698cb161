/// Why an authorize was denied. The raw values are stable: proxies and clients switch on them.
public enum DenyReason: String, CaseIterable, Hashable, Sendable {
    case unknownKey = "unknown_key"
    case keyDisabled = "key_disabled"
    case keyExpired = "key_expired"
    case modelNotAllowed = "model_not_allowed"
    case rateLimited = "rate_limited"
    case concurrencyLimited = "concurrency_limited"
    case budgetExceeded = "budget_exceeded"
    case insufficientBalance = "insufficient_balance"
    case badRequest = "bad_request"
    /// Never decided by the engine: the server's answer when the store cannot decide and the
    /// policy says `on_store_error: fail_closed`.
    case unavailable = "unavailable"

    /// The HTTP status a proxy should answer with.
    public var httpStatus: Int {
        switch self {
        case .unknownKey, .keyDisabled, .keyExpired: return 401
        case .modelNotAllowed: return 403
        case .rateLimited, .concurrencyLimited: return 429
        case .budgetExceeded, .insufficientBalance: return 402
        case .badRequest: return 400
        case .unavailable: return 503
        }
    }
}
