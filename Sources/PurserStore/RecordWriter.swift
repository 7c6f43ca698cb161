/// Appends fixed-width big-endian integers and length-prefixed strings to a byte array.
///
/// Every LMDB value Purser stores is written with this and read back with `RecordReader`: a
/// hand-written binary layout, because decoding a record happens on every decision and must cost
/// well under a microsecond (a JSON decode costs tens).
struct RecordWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 128) {
        bytes.reserveCapacity(capacity)
    }

    mutating func write(_ value: UInt8) {
        bytes.append(value)
    }

    mutating func write(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    mutating func write(_ value: Int64) {
        write(UInt64(bitPattern: value))
    }

    // Integers are appended a byte at a time: `append(contentsOf:)` of an 8-byte buffer costs
    // ~100 instructions of fixed overhead plus a `memcpy` call (callgrind), where each unrolled
    // append is a capacity check and a store. With the same change in `WireCodec` and
    // `LMDBWriteLog`, an authorize went from 163,606 to 162,292 instructions (`instructions.py`).

    mutating func write(_ value: UInt64) {
        write(UInt32(truncatingIfNeeded: value >> 32))
        write(UInt32(truncatingIfNeeded: value))
    }

    mutating func write(_ value: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func write(_ value: String) {
        // `withUTF8` hands over the string's own contiguous bytes: one memcpy, where appending the
        // UTF8View went through the generic sequence path.
        var value = value
        value.withUTF8 { utf8 in
            write(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// The string's UTF-8 bytes without a length prefix, for keys whose layout has none.
    mutating func writeUnprefixed(_ value: String) {
        var value = value
        value.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ values: [String]) {
        write(UInt32(values.count))
        for value in values { write(value) }
    }

    mutating func write(bytes value: [UInt8]) {
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// A presence byte, then the value if present.
    mutating func writeOptional<Value>(_ value: Value?, _ body: (inout RecordWriter, Value) -> Void) {
        guard let value else {
            write(false)
            return
        }
        write(true)
        body(&self, value)
    }

    mutating func writeArray<Element>(_ values: [Element], _ body: (inout RecordWriter, Element) -> Void) {
        write(UInt32(values.count))
        for value in values { body(&self, value) }
    }
}
