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
        // Straight from the string's bytes, two digits a step, into an array made at its final
        // size: a policy file holds 100,000 of these.
        let parsed = hex.utf8.withContiguousStorageIfAvailable(KeyHash.bytes(hex:)) ?? Array(hex.utf8).withUnsafeBufferPointer(KeyHash.bytes(hex:))
        guard let parsed else { return nil }
        self.bytes = parsed
    }

    /// The 32 bytes that 64 hexadecimal digits stand for, or `nil`.
    private static func bytes(hex digits: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard digits.count == KeyHash.byteCount * 2 else { return nil }
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: KeyHash.byteCount) { buffer, initializedCount in
            for index in 0..<KeyHash.byteCount {
                guard let high = nibble(digits[2 * index]), let low = nibble(digits[2 * index + 1]) else {
                    valid = false
                    break
                }
                buffer[index] = high << 4 | low
                initializedCount = index + 1
            }
        }
        return valid ? bytes : nil
    }

    /// The 32 bytes in one call, rather than one call per byte as the synthesized hash would make.
    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Hashes a secret. The secret itself is not retained.
    public init(secret: some StringProtocol) {
        self.init(secret: String(secret))
    }

    /// Hashes a secret straight from its UTF-8 storage: no copy into an array, and no generic
    /// path (every authorize hashes its key).
    public init(secret: String) {
        var secret = secret
        var hasher = SHA256()
        secret.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        self.bytes = hasher.finalize().withUnsafeBytes { Array($0) }
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

    /// The value of a hexadecimal digit, by two subtractions rather than three range tests.
    private static func nibble(_ character: UInt8) -> UInt8? {
        let digit = character &- UInt8(ascii: "0")
        if digit < 10 { return digit }
        // Setting bit 5 lowercases a letter (and turns no other byte into one).
        let letter = (character | 0x20) &- UInt8(ascii: "a")
        if letter < 6 { return letter + 10 }
        return nil
    }
}
