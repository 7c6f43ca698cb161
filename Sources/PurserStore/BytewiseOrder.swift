#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LMDB's default key order, on raw bytes: `memcmp` over the shorter length, then shorter first.
enum BytewiseOrder {
    static func compare(_ left: [UInt8], _ right: [UInt8]) -> Int {
        left.withUnsafeBytes { left in right.withUnsafeBytes { compare(left, $0) } }
    }

    /// The first 8 bytes as a big-endian integer, zero-padded: `prefix(a) < prefix(b)` implies
    /// `a` sorts before `b`; equal prefixes decide nothing.
    static func prefix(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { prefix($0) }
    }

    static func prefix(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 {
            value = value << 8 | UInt64(index < bytes.count ? bytes[index] : 0)
        }
        return value
    }

    static func compare(_ left: UnsafeRawBufferPointer, _ right: UnsafeRawBufferPointer) -> Int {
        let common = min(left.count, right.count)
        if common > 0, let leftBase = left.baseAddress, let rightBase = right.baseAddress {
            let result = memcmp(leftBase, rightBase, common)
            if result != 0 { return Int(result) }
        }
        return left.count - right.count
    }
}
