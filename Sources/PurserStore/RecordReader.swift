/// A stored record that cannot be decoded: a bug or on-disk corruption, never user input.
public struct RecordCorrupted: Error, CustomStringConvertible {
    public var record: String
    public var offset: Int
    public var description: String { "stored \(record) record is corrupted at byte \(offset)" }
}

/// Reads what `RecordWriter` wrote. Every read is bounds-checked and throws `RecordCorrupted`
/// instead of trapping, so a damaged record fails one operation, not the daemon.
///
/// It reads borrowed memory (usually LMDB's own map, through `LMDBTransaction.withValue`) rather
/// than an array: copying every value out of the map before decoding it was a malloc, a memcpy
/// and a free per record read, several per authorize. So a reader is valid only while the buffer
/// it was made from is, and everything it returns is an owned copy.
struct RecordReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0
    private let record: String

    /// `bytes` must stay valid and unchanged for as long as this reader is used.
    init(borrowing bytes: UnsafeRawBufferPointer, record: String) {
        self.bytes = bytes
        self.record = record
    }

    /// Runs `body` on a reader over `bytes`.
    static func reading<Value>(
        _ bytes: [UInt8], record: String, _ body: (inout RecordReader) throws(RecordCorrupted) -> Value
    ) throws(RecordCorrupted) -> Value {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(RecordCorrupted) -> Value in
                var reader = RecordReader(borrowing: buffer, record: record)
                return try body(&reader)
            }
        }
        return try result.get()
    }

    var isAtEnd: Bool { offset == bytes.count }

    /// The bytes not read yet; valid as long as the reader's buffer is.
    var remainingBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[offset...]) }

    /// Moves past `count` bytes, as reading them would.
    mutating func skip(_ count: Int) throws(RecordCorrupted) {
        _ = try take(count)
    }

    private func corrupted() -> RecordCorrupted {
        RecordCorrupted(record: record, offset: offset)
    }

    private mutating func take(_ count: Int) throws(RecordCorrupted) -> UnsafeRawBufferPointer {
        guard count >= 0, bytes.count - offset >= count else { throw corrupted() }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    mutating func readUInt8() throws(RecordCorrupted) -> UInt8 {
        guard offset < bytes.count else { throw corrupted() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readBool() throws(RecordCorrupted) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        default: throw corrupted()
        }
    }

    mutating func readUInt64() throws(RecordCorrupted) -> UInt64 {
        UInt64(bigEndian: try take(8).loadUnaligned(as: UInt64.self))
    }

    mutating func readInt64() throws(RecordCorrupted) -> Int64 {
        Int64(bitPattern: try readUInt64())
    }

    mutating func readUInt32() throws(RecordCorrupted) -> UInt32 {
        UInt32(bigEndian: try take(4).loadUnaligned(as: UInt32.self))
    }

    mutating func readString() throws(RecordCorrupted) -> String {
        let count = Int(try readUInt32())
        let slice = try take(count)
        guard let string = slice.withMemoryRebound(to: UInt8.self, Self.validatedString) else { throw corrupted() }
        return string
    }

    /// The string `bytes` encode, or nil if they are not valid UTF-8.
    ///
    /// ASCII, which every id, model and tag is, is checked here and decoded directly:
    /// `String(validating:as:)` is generic and not specialized across the module boundary, and
    /// looking up its generic metadata on every call cost more than the validation itself.
    static func validatedString(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var isASCII = true
        for byte in bytes where byte >= 0x80 {
            isASCII = false
            break
        }
        // ASCII is valid UTF-8, so decoding it cannot repair anything.
        return isASCII ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
    }

    mutating func readStrings() throws(RecordCorrupted) -> [String] {
        let count = Int(try readUInt32())
        guard count <= bytes.count - offset else { throw corrupted() }
        var strings: [String] = []
        strings.reserveCapacity(count)
        for _ in 0..<count { strings.append(try readString()) }
        return strings
    }

    mutating func readBytes() throws(RecordCorrupted) -> [UInt8] {
        let count = Int(try readUInt32())
        return Array(try take(count))
    }

    mutating func readOptional<Value>(_ body: (inout RecordReader) throws(RecordCorrupted) -> Value) throws(RecordCorrupted) -> Value? {
        try readBool() ? try body(&self) : nil
    }

    mutating func readArray<Element>(_ body: (inout RecordReader) throws(RecordCorrupted) -> Element) throws(RecordCorrupted) -> [Element] {
        let count = Int(try readUInt32())
        // Each element takes at least one byte, so a count past the end is corruption, not a
        // reason to reserve a huge array.
        guard count <= bytes.count - offset else { throw corrupted() }
        var values: [Element] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try body(&self)) }
        return values
    }

    mutating func readEnum<Value: RawRepresentable>(_ type: Value.Type) throws(RecordCorrupted) -> Value where Value.RawValue == String {
        guard let value = Value(rawValue: try readString()) else { throw corrupted() }
        return value
    }

    mutating func expectFormat(_ version: UInt8) throws(RecordCorrupted) {
        guard try readUInt8() == version else { throw corrupted() }
    }

    func finish() throws(RecordCorrupted) {
        guard isAtEnd else { throw corrupted() }
    }
}
