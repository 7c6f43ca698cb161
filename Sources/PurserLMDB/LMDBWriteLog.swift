/// Every change a write transaction made, in order, as bytes: what a redo journal needs to apply
/// the same transaction again to a copy of the database that missed it.
///
/// Attach one to `LMDBEnvironment.write(log:_:)`. Only changes that took effect are recorded (a
/// `putIfAbsent` that found the key, or a `delete` of an absent key, changed nothing), so that
/// replaying the log reproduces the transaction exactly, including whether LMDB commits it at all.
///
/// Layout: `headerBytesCount` bytes the owner may fill in (the journal writes its entry header
/// there, so an entry goes to disk with one `pwrite` and no copy), then one record per change:
/// `kind` (1 byte), database name length (1 byte), the name, key length (UInt16 big-endian), the
/// key, and for a put the value length (UInt32 big-endian) and the value.
public final class LMDBWriteLog {
    public enum RecordKind: UInt8, Sendable {
        case put = 1
        case delete = 2
        case removeAll = 3
    }

    /// A change read back from a log's records.
    public struct Record: Equatable, Sendable {
        public var kind: RecordKind
        public var databaseName: String
        public var key: [UInt8]
        public var value: [UInt8]

        public init(kind: RecordKind, databaseName: String, key: [UInt8], value: [UInt8]) {
            self.kind = kind
            self.databaseName = databaseName
            self.key = key
            self.value = value
        }
    }

    public enum DecodingError: Error, Equatable {
        case truncated(offset: Int)
        case unknownKind(UInt8, offset: Int)
    }

    /// Bytes reserved at the start of `bytes` for the owner's header.
    public let headerBytesCount: Int
    /// The header space followed by the records.
    public private(set) var bytes: [UInt8]
    private let initialCapacityBytes: Int

    public init(headerBytesCount: Int, recordBytesMax: Int = 8 << 20, capacityBytes: Int = 64 << 10) {
        precondition(headerBytesCount >= 0 && recordBytesMax > 0)
        self.headerBytesCount = headerBytesCount
        self.recordBytesMax = recordBytesMax
        self.initialCapacityBytes = max(capacityBytes, headerBytesCount)
        self.bytes = []
        bytes.reserveCapacity(initialCapacityBytes)
        bytes.append(contentsOf: repeatElement(0, count: headerBytesCount))
    }

    /// The most record bytes one transaction may log. Past it the log stops recording and says
    /// so (`isOverflowed`): a transaction that large (a policy load) is made durable by syncing
    /// the database instead, and its log never holds the process's memory.
    public let recordBytesMax: Int
    /// True when the transaction changed more than `recordBytesMax` bytes: the records are
    /// incomplete and must not be replayed.
    public private(set) var isOverflowed = false

    /// True when no change was recorded since the last `removeAllRecords()`.
    public var isEmpty: Bool { bytes.count == headerBytesCount && !isOverflowed }

    /// The records only, without the header space.
    public var recordBytesCount: Int { bytes.count - headerBytesCount }

    /// Forgets every record. Keeps the buffer's capacity (a log is reused for every batch) up to
    /// `capacityBytesKeptMax`: one large transaction (a policy load writes ~25 MB for 100,000
    /// keys) must not leave its buffer resident for the process's life.
    public func removeAllRecords(capacityBytesKeptMax: Int = 4 << 20) {
        isOverflowed = false
        if bytes.capacity > capacityBytesKeptMax {
            bytes = []
            bytes.reserveCapacity(min(initialCapacityBytes, capacityBytesKeptMax))
            bytes.append(contentsOf: repeatElement(0, count: headerBytesCount))
        } else {
            bytes.removeSubrange(headerBytesCount...)
        }
    }

    /// Lets the owner write its header into the reserved space.
    public func withHeader<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T {
        try bytes.withUnsafeMutableBytes { all in
            try body(UnsafeMutableRawBufferPointer(rebasing: all[0..<headerBytesCount]))
        }
    }

    // MARK: Recording (by LMDBTransaction)

    func recordPut(_ database: LMDBDatabase, key: [UInt8], value: [UInt8]) {
        guard fits(database, key: key, valueBytesCount: 4 + value.count) else { return }
        Self.append(.put, database, key: key, value: value, to: &bytes)
    }

    func recordDelete(_ database: LMDBDatabase, key: [UInt8]) {
        guard fits(database, key: key, valueBytesCount: 0) else { return }
        Self.append(.delete, database, key: key, value: nil, to: &bytes)
    }

    func recordRemoveAll(_ database: LMDBDatabase) {
        guard fits(database, key: [], valueBytesCount: 0) else { return }
        Self.append(.removeAll, database, key: [], value: nil, to: &bytes)
    }

    private func fits(_ database: LMDBDatabase, key: [UInt8], valueBytesCount: Int) -> Bool {
        guard !isOverflowed else { return false }
        let recordBytesCount = 4 + database.name.utf8.count + key.count + valueBytesCount
        guard self.recordBytesCount + recordBytesCount <= recordBytesMax else {
            isOverflowed = true
            // Nothing recorded is usable now; give the memory back at once.
            bytes.removeSubrange(headerBytesCount...)
            return false
        }
        return true
    }

    /// Appends one record. Static, on an `inout` buffer: appending to the class's property byte by
    /// byte paid a dynamic exclusivity check per append; one `inout` access covers the record.
    private static func append(
        _ kind: RecordKind, _ database: LMDBDatabase, key: [UInt8], value: [UInt8]?, to bytes: inout [UInt8]
    ) {
        bytes.append(kind.rawValue)
        // Database names are ours and short (checked when the database is opened).
        let name = database.name.utf8
        bytes.append(UInt8(name.count))
        bytes.append(contentsOf: name)
        // LMDB keys are at most 511 bytes, so two bytes hold any length.
        bytes.append(UInt8(truncatingIfNeeded: key.count >> 8))
        bytes.append(UInt8(truncatingIfNeeded: key.count))
        bytes.append(contentsOf: key)
        guard let value else { return }
        let count = UInt32(value.count)
        bytes.append(UInt8(truncatingIfNeeded: count >> 24))
        bytes.append(UInt8(truncatingIfNeeded: count >> 16))
        bytes.append(UInt8(truncatingIfNeeded: count >> 8))
        bytes.append(UInt8(truncatingIfNeeded: count))
        bytes.append(contentsOf: value)
    }

    // MARK: Reading back

    /// Decodes records as written above, from `recordBytes` (without header space).
    public static func records(in recordBytes: UnsafeRawBufferPointer) throws(DecodingError) -> [Record] {
        var records: [Record] = []
        var offset = 0
        func take(_ count: Int) throws(DecodingError) -> UnsafeRawBufferPointer {
            guard count <= recordBytes.count - offset else { throw .truncated(offset: offset) }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: recordBytes[offset..<offset + count])
        }
        func integer(_ count: Int) throws(DecodingError) -> Int {
            try take(count).reduce(0) { $0 << 8 | Int($1) }
        }
        while offset < recordBytes.count {
            let kindOffset = offset
            let rawKind = try take(1)[0]
            guard let kind = RecordKind(rawValue: rawKind) else { throw .unknownKind(rawKind, offset: kindOffset) }
            let name = String(decoding: try take(try integer(1)), as: UTF8.self)
            let key = Array(try take(try integer(2)))
            let value = kind == .put ? Array(try take(try integer(4))) : []
            records.append(Record(kind: kind, databaseName: name, key: key, value: value))
        }
        return records
    }
}
