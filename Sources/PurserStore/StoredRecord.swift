/// A value stored in LMDB in the `RecordWriter` layout, led by a format byte so that a future
/// version can migrate old records instead of misreading them.
protocol StoredRecord {
    static var recordName: String { get }
    static var formatVersion: UInt8 { get }
    func write(to writer: inout RecordWriter)
    init(reading reader: inout RecordReader) throws(RecordCorrupted)
}

extension StoredRecord {
    static var formatVersion: UInt8 { 1 }

    func encodedRecord() -> [UInt8] {
        var writer = RecordWriter()
        writer.write(Self.formatVersion)
        write(to: &writer)
        return writer.bytes
    }

    init(record bytes: [UInt8]) throws(RecordCorrupted) {
        var reader = RecordReader(bytes, record: Self.recordName)
        try reader.expectFormat(Self.formatVersion)
        try self.init(reading: &reader)
        try reader.finish()
    }
}
