import PurserPolicy

/// One authorize call as the engine sees it. The secret has already been hashed and resolved to a
/// key by the caller; the engine never sees secrets.
public struct AuthorizeRequest: Hashable, Sendable {
    public var requestId: String
    public var model: String
    public var tags: [String]
    public var estimate: TokenOrMicrosAmount

    public init(requestId: String, model: String, tags: [String] = [], estimate: TokenOrMicrosAmount) {
        self.requestId = requestId
        self.model = model
        self.tags = tags
        self.estimate = estimate
    }

    /// Syntax checks that need no policy: the engine runs these first and the store runs them
    /// before it looks anything up.
    public func validate() -> BadRequest? {
        let requestIdBytes = requestId.utf8
        guard !requestIdBytes.isEmpty, requestIdBytes.count <= EngineLimits.requestIdBytesMax,
              requestIdBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7f })
        else {
            return BadRequest("request id must be 1-\(EngineLimits.requestIdBytesMax) printable ASCII bytes without spaces")
        }
        guard Identifier.isValid(model) else {
            return BadRequest("model must be \(Identifier.ruleDescription)")
        }
        guard tags.count <= EngineLimits.tagsPerRequestCountMax else {
            return BadRequest("at most \(EngineLimits.tagsPerRequestCountMax) tags per request")
        }
        for tag in tags where !Identifier.isValid(tag) {
            return BadRequest("tag must be \(Identifier.ruleDescription)")
        }
        if case .failure(let problem) = estimate.micros(price: ModelPrice(inputMicrosPerMillionTokens: 0, outputMicrosPerMillionTokens: 0)) {
            return problem
        }
        return nil
    }
}
