/// Protocol constants and the defaults of the server's per-connection limits.
public enum WireLimits {
    public static let protocolVersion: UInt8 = 1
    /// Bytes of the length prefix.
    public static let lengthPrefixBytes = 4
    /// version (1) + type (1) + correlation id (8).
    public static let headerBytes = 10
    /// Bytes of a field's tag and length.
    public static let fieldHeaderBytes = 4
    /// The largest payload accepted by default.
    public static let frameBytesMaxDefault = 65_536
    /// A key secret: long enough for any real key format, short enough to hash in no time.
    public static let keySecretBytesMax = 1_024
}
