import PurserPolicy

/// How much a request is expected to cost, or what it did cost: either micros directly, or token
/// counts priced from the catalog.
public enum TokenOrMicrosAmount: Hashable, Sendable {
    case micros(Int64)
    /// For an estimate, `outputTokens` is the request's maximum output tokens.
    case tokens(inputTokens: Int64, outputTokens: Int64)

    /// Total tokens, when known; `tpm` limits consume these.
    public var tokenCount: Int64? {
        switch self {
        case .micros: return nil
        case .tokens(let input, let output): return input + output
        }
    }

    public var inputTokens: Int64 {
        if case .tokens(let input, _) = self { return input }
        return 0
    }

    public var outputTokens: Int64 {
        if case .tokens(_, let output) = self { return output }
        return 0
    }

    /// The amount in micros, or the reason it cannot be computed.
    public func micros(price: ModelPrice?) -> Result<Int64, BadRequest> {
        switch self {
        case .micros(let micros):
            guard micros >= 0, micros <= EngineLimits.costMicrosMax else {
                return .failure(.init("micros must be between 0 and \(EngineLimits.costMicrosMax)"))
            }
            return .success(micros)
        case .tokens(let input, let output):
            guard input >= 0, output >= 0, input <= EngineLimits.tokensPerRequestMax, output <= EngineLimits.tokensPerRequestMax else {
                return .failure(.init("token counts must be between 0 and \(EngineLimits.tokensPerRequestMax)"))
            }
            guard let price else {
                return .failure(.init("the model has no price in the catalog, so token counts cannot be priced; send micros"))
            }
            guard let cost = price.costMicros(inputTokens: input, outputTokens: output), cost <= EngineLimits.costMicrosMax else {
                return .failure(.init("the priced cost exceeds \(EngineLimits.costMicrosMax) micros"))
            }
            return .success(cost)
        }
    }
}

/// The detail of a `bad_request`: which part of the request was wrong, in words for a developer.
public struct BadRequest: Error, Hashable, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
}
