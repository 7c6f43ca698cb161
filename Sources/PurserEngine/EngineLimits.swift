import PurserPolicy

/// Bounds on every request the engine accepts. Each name ends in its unit.
///
/// A request outside them is denied with `bad_request` before anything is read or reserved.
public enum EngineLimits {
    public static let requestIdBytesMax = 128
    public static let tagsPerRequestCountMax = 16
    public static let tokensPerRequestMax: Int64 = 100_000_000
    /// One estimate or one settled cost. The same bound as a cap, so that sums of a few of them
    /// cannot approach `Int64.max`.
    public static let costMicrosMax: Int64 = PolicyLimits.capMicrosMax
    public static let retriesCountMax: Int64 = 1_000
    public static let creditMicrosMax: Int64 = PolicyLimits.capMicrosMax
    public static let memoBytesMax = 512
}
