/// Budgets attached to a cost tag, either per tenant (`tenants.T.tags`) or account-wide (`tags`).
public struct TagPolicy: Hashable, Sendable {
    public var budgets: [Budget]

    public init(budgets: [Budget]) {
        self.budgets = budgets
    }
}
