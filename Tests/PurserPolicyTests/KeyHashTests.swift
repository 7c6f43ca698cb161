import Testing
@testable import PurserPolicy

/// `KeyHash(hex:)` reads digits two at a time with arithmetic rather than range tests: every byte
/// around the digit and letter ranges must still be refused.
@Suite struct KeyHashTests {
    @Test func readsEitherCase() throws {
        let lower = try #require(KeyHash(hex: "0123456789abcdef" + String(repeating: "0", count: 48)))
        let upper = try #require(KeyHash(hex: "0123456789ABCDEF" + String(repeating: "0", count: 48)))
        #expect(lower == upper)
        #expect(Array(lower.bytes.prefix(8)) == [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF])
        #expect(lower.hex == "0123456789abcdef" + String(repeating: "0", count: 48))
    }

    @Test func refusesEveryOtherByte() {
        let hexDigits = Set("0123456789abcdefABCDEF".utf8)
        for byte in UInt8(0x20)...UInt8(0x7E) where !hexDigits.contains(byte) {
            let text = String(repeating: "a", count: 63) + String(UnicodeScalar(byte))
            #expect(KeyHash(hex: text) == nil, "\(text)")
            let first = String(UnicodeScalar(byte)) + String(repeating: "a", count: 63)
            #expect(KeyHash(hex: first) == nil, "\(first)")
        }
        #expect(KeyHash(hex: String(repeating: "a", count: 63)) == nil)
        #expect(KeyHash(hex: String(repeating: "a", count: 65)) == nil)
        #expect(KeyHash(hex: String(repeating: "\u{E9}", count: 32)) == nil)
    }

    @Test func readsBridgedAndSubstringBackedText() throws {
        let text = "x" + String(repeating: "Ab", count: 32)
        let hash = try #require(KeyHash(hex: String(text.dropFirst())))
        #expect(hash.bytes == Array(repeating: 0xAB, count: 32))
    }
}
