/// Every bound the policy file and the decisions it drives are held to. Each name ends in its unit.
///
/// The limits exist so that no input, however large or hostile, makes Purser allocate without bound
/// or overflow 64-bit arithmetic on money and time.
public enum PolicyLimits {
    /// The policy file itself.
    public static let policyFileBytesMax = 64 * 1024 * 1024
    /// Identifiers: key ids, tenant ids, plan ids, tag names and model names.
    public static let identifierBytesMax = 128
    /// A tenant's display name.
    public static let displayNameBytesMax = 256
    public static let plansCountMax = 10_000
    public static let tenantsCountMax = 1_000_000
    public static let keysCountMax = 1_000_000
    public static let pricesCountMax = 10_000
    public static let accountTagsCountMax = 10_000
    public static let tenantTagsCountMax = 1_000
    public static let budgetsPerScopeCountMax = 8
    public static let modelPatternsCountMax = 256
    /// One billion USD: large enough for any real cap, small enough that sums of caps stay far from
    /// `Int64.max`.
    public static let capMicrosMax: Int64 = 1_000_000_000_000_000
    /// 1,000,000 USD per million tokens.
    public static let priceMicrosPerMillionTokensMax: Int64 = 1_000_000_000_000
    public static let requestsPerMinuteMax: Int64 = 1_000_000_000
    public static let tokensPerMinuteMax: Int64 = 1_000_000_000_000
    public static let inflightMax: Int64 = 1_000_000
    public static let reservationTTLSecondsMin: Int64 = 1
    public static let reservationTTLSecondsMax: Int64 = 7 * 86_400
    public static let reservationRetentionSecondsMax: Int64 = 90 * 86_400
    /// Ledger events are kept at least a day and at most 100 years; rollups are never pruned.
    public static let ledgerRetentionSecondsMin: Int64 = 86_400
    public static let ledgerRetentionSecondsMax: Int64 = 36_500 * 86_400
    /// Years 1970 through 2199: keeps every timestamp inside `Int64` nanoseconds with room to add TTLs.
    public static let timestampSecondsMax: Int64 = 7_258_118_400
}
