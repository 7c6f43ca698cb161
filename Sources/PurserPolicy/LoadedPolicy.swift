import Crypto

/// A validated policy and the version that names it.
public struct LoadedPolicy: Hashable, Sendable {
    public var policy: Policy
    /// Lowercase hex SHA-256 of the policy file's bytes.
    public var version: String

    public init(policy: Policy, version: String) {
        self.policy = policy
        self.version = version
    }
}

/// Names a policy by the SHA-256 of its file's bytes.
public enum PolicyVersion {
    public static func of(_ bytes: [UInt8]) -> String {
        KeyHash(bytes: Array(SHA256.hash(data: bytes)))!.hex
    }
}
