/// An API key as declared in the policy file. Only the SHA-256 of the secret is ever known.
public struct KeyPolicy: Hashable, Sendable {
    public var id: String
    public var tenant: String
    public var sha256: KeyHash
    public var defaultTag: String?
    public var rateLimits: RateLimits
    public var budgets: [Budget]
    /// Narrows the plan's allowlist (a model must match both); `nil` means "the plan's list".
    public var models: [ModelPattern]?
    public var expiresAt: Timestamp?
    public var disabled: Bool
    /// The hash of a secret being rotated out, accepted until `previousValidUntil`.
    public var previousSHA256: KeyHash?
    public var previousValidUntil: Timestamp?

    public init(
        id: String,
        tenant: String,
        sha256: KeyHash,
        defaultTag: String? = nil,
        rateLimits: RateLimits = .unlimited,
        budgets: [Budget] = [],
        models: [ModelPattern]? = nil,
        expiresAt: Timestamp? = nil,
        disabled: Bool = false,
        previousSHA256: KeyHash? = nil,
        previousValidUntil: Timestamp? = nil
    ) {
        self.id = id
        self.tenant = tenant
        self.sha256 = sha256
        self.defaultTag = defaultTag
        self.rateLimits = rateLimits
        self.budgets = budgets
        self.models = models
        self.expiresAt = expiresAt
        self.disabled = disabled
        self.previousSHA256 = previousSHA256
        self.previousValidUntil = previousValidUntil
    }
}
