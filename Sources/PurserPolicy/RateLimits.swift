/// Request and token rate limits plus a concurrency limit. `nil` means "no limit at this level".
///
/// Policy file names: `rpm`, `tpm`, `max_inflight`.
public struct RateLimits: Hashable, Sendable {
    public var requestsPerMinute: Int64?
    public var tokensPerMinute: Int64?
    public var inflightMax: Int64?

    public init(requestsPerMinute: Int64? = nil, tokensPerMinute: Int64? = nil, inflightMax: Int64? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.inflightMax = inflightMax
    }

    public static let unlimited = RateLimits()

    /// Field-by-field override: a value set in `overrides` wins, an unset one falls back to `self`.
    public func overridden(by overrides: RateLimits?) -> RateLimits {
        guard let overrides else { return self }
        return RateLimits(
            requestsPerMinute: overrides.requestsPerMinute ?? requestsPerMinute,
            tokensPerMinute: overrides.tokensPerMinute ?? tokensPerMinute,
            inflightMax: overrides.inflightMax ?? inflightMax
        )
    }
}
