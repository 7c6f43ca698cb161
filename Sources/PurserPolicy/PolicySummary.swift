/// A one-line summary of a valid policy, as `purser check-policy` prints it:
/// `ok: 3 plans, 5 tenants, 10 keys, 3 prices, 1 account tag`.
public struct PolicySummary: Hashable, Sendable, CustomStringConvertible {
    public var planCount: Int
    public var tenantCount: Int
    public var keyCount: Int
    public var priceCount: Int
    public var accountTagCount: Int

    public init(_ policy: Policy) {
        planCount = policy.plans.count
        tenantCount = policy.tenants.count
        keyCount = policy.keys.count
        priceCount = policy.prices.count
        accountTagCount = policy.tags.count
    }

    public var description: String {
        func count(_ value: Int, _ singular: String, _ plural: String) -> String {
            "\(value) \(value == 1 ? singular : plural)"
        }
        return "ok: " + [
            count(planCount, "plan", "plans"),
            count(tenantCount, "tenant", "tenants"),
            count(keyCount, "key", "keys"),
            count(priceCount, "price", "prices"),
            count(accountTagCount, "account tag", "account tags"),
        ].joined(separator: ", ")
    }
}
