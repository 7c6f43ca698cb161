/// A value stored in LMDB in the `RecordWriter` layout, led by a format byte so that a future
/// version can migrate old records instead of misreading them.
protocol StoredRecord {
    static var recordName: String { get }
    static var formatVersion: UInt8 { get }
    /// What the encoded record usually fits in, so that encoding allocates its buffer once
    /// instead of growing it (a reservation outgrew the default twice on every authorize).
    static var encodedCapacityEstimate: Int { get }
    func write(to writer: inout RecordWriter)
    init(reading reader: inout RecordReader) throws(RecordCorrupted)
}

extension StoredRecord {
    static var formatVersion: UInt8 { 1 }
    static var encodedCapacityEstimate: Int { 128 }

    func encodedRecord() -> [UInt8] {
        var writer = RecordWriter(capacity: Self.encodedCapacityEstimate)
        writer.write(Self.formatVersion)
        write(to: &writer)
        return writer.bytes
    }

    init(record bytes: [UInt8]) throws(RecordCorrupted) {
        self = try RecordReader.reading(bytes, record: Self.recordName) { reader throws(RecordCorrupted) in
            try Self(wholeRecordFrom: &reader)
        }
    }

    /// Decodes the record in `bytes` (typically LMDB's map); the value owns all it holds.
    init(borrowing bytes: UnsafeRawBufferPointer) throws(RecordCorrupted) {
        var reader = RecordReader(borrowing: bytes, record: Self.recordName)
        try self.init(wholeRecordFrom: &reader)
    }

    /// The whole record: its format byte, its fields, and nothing after them.
    private init(wholeRecordFrom reader: inout RecordReader) throws(RecordCorrupted) {
        try reader.expectFormat(Self.formatVersion)
        try self.init(reading: &reader)
        try reader.finish()
    }
}
