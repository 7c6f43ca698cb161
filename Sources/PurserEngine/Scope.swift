/// Something spend is counted against. Each scope has one `ScopeState` record.
public enum Scope: Hashable, Sendable, Comparable, CustomStringConvertible {
    case key(String)
    case tenant(String)
    /// A tenant's own budget for one of its tags (`tenants.T.tags.TAG`).
    case tenantTag(tenant: String, tag: String)
    /// An account-wide tag budget across every tenant (`tags.TAG`).
    case tag(String)

    /// The stable text form used on the wire, in logs and in the ledger:
    /// `key:ID`, `tenant:ID`, `tenant_tag:TENANT/TAG`, `tag:TAG`.
    public var description: String {
        switch self {
        case .key(let id): return "key:\(id)"
        case .tenant(let id): return "tenant:\(id)"
        case .tenantTag(let tenant, let tag): return "tenant_tag:\(tenant)/\(tag)"
        case .tag(let tag): return "tag:\(tag)"
        }
    }

    /// The scope string of a tenant's prepaid balance, which lives in the tenant's record.
    public static func balanceDescription(tenant: String) -> String { "balance:\(tenant)" }

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.description < rhs.description }
}
