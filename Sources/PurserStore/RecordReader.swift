/// A stored record that cannot be decoded: a bug or on-disk corruption, never user input.
public struct RecordCorrupted: Error, CustomStringConvertible {
    public var record: String
    public var offset: Int
    public var description: String { "stored \(record) record is corrupted at byte \(offset)" }
}

/// Reads what `RecordWriter` wrote. Every read is bounds-checked and throws `RecordCorrupted`
/// instead of trapping, so a damaged record fails one operation, not the daemon.
struct RecordReader {
    private let bytes: [UInt8]
    private var offset = 0
    private let record: String

    init(_ bytes: [UInt8], record: String) {
        self.bytes = bytes
        self.record = record
    }

    var isAtEnd: Bool { offset == bytes.count }

    private func corrupted() -> RecordCorrupted {
        RecordCorrupted(record: record, offset: offset)
    }

    private mutating func take(_ count: Int) throws(RecordCorrupted) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - offset >= count else { throw corrupted() }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func readUInt8() throws(RecordCorrupted) -> UInt8 {
        try take(1).first!
    }

    mutating func readBool() throws(RecordCorrupted) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        default: throw corrupted()
        }
    }

    mutating func readUInt64() throws(RecordCorrupted) -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func readInt64() throws(RecordCorrupted) -> Int64 {
        Int64(bitPattern: try readUInt64())
    }

    mutating func readUInt32() throws(RecordCorrupted) -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func readString() throws(RecordCorrupted) -> String {
        let count = Int(try readUInt32())
        let slice = try take(count)
        guard let string = String(validating: slice, as: UTF8.self) else { throw corrupted() }
        return string
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
