/// A plan: the model allowlist, per-tenant rate limits and per-tenant budgets shared by its tenants.
public struct Plan: Hashable, Sendable {
    public var id: String
    /// Glob patterns. A model that matches none is denied with `model_not_allowed`.
    public var models: [ModelPattern]
    public var rateLimits: RateLimits
    /// Applied to each tenant on the plan separately, against that tenant's own spend.
    public var budgets: [Budget]

    public init(id: String, models: [ModelPattern], rateLimits: RateLimits = .unlimited, budgets: [Budget] = []) {
        self.id = id
        self.models = models
        self.rateLimits = rateLimits
        self.budgets = budgets
    }
}
