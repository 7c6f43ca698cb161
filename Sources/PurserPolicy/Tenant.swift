/// A customer of the company running Purser.
public struct Tenant: Hashable, Sendable {
    public var id: String
    public var name: String
    public var plan: String
    /// The tenant's own budgets; the plan's budgets apply as well.
    public var budgets: [Budget]
    /// When true every request also reserves against, and is charged to, a prepaid balance that
    /// only admin `credit` operations raise.
    public var prepaid: Bool
    /// Overrides the plan's rate limits field by field; `nil` keeps the plan's.
    public var rateLimits: RateLimits?
    /// Per-tenant tag budgets, keyed by tag.
    public var tags: [String: TagPolicy]

    public init(
        id: String,
        name: String,
        plan: String,
        budgets: [Budget] = [],
        prepaid: Bool = false,
        rateLimits: RateLimits? = nil,
        tags: [String: TagPolicy] = [:]
    ) {
        self.id = id
        self.name = name
        self.plan = plan
        self.budgets = budgets
        self.prepaid = prepaid
        self.rateLimits = rateLimits
        self.tags = tags
    }
}
