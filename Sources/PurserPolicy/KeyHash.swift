import Crypto

/// The SHA-256 digest of an API key secret. Purser stores and compares only these 32 bytes.
public struct KeyHash: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    /// Returns `nil` unless `bytes` holds exactly 32 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == KeyHash.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 hexadecimal digits (either case).
    public init?(hex: String) {
        // Straight from the string's bytes: a policy file holds 100,000 of these.
        let utf8 = hex.utf8
        guard utf8.count == KeyHash.byteCount * 2 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(KeyHash.byteCount)
        var high: UInt8? = nil
        for character in utf8 {
            guard let value = KeyHash.nibble(character) else { return nil }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        self.bytes = bytes
    }

    /// The 32 bytes in one call, rather than one call per byte as the synthesized hash would make.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Hashes a secret. The secret itself is not retained.
    public init(secret: some StringProtocol) {
        self.bytes = Array(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Lowercase hexadecimal, 64 characters.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
