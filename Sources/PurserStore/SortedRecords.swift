/// Key-value records in LMDB's default key order (bytewise, a prefix before its extensions), held
/// in one byte buffer.
///
/// Why one buffer: a 100,000-key policy is ~210,000 records. An array per key and per value made
/// ~420,000 small allocations, alive until the load's transaction had run and then freed on the
/// event loop, and those frees left the allocator's bins to be sorted by the loop's next request.
struct SortedRecords: Sendable {
    /// Where one record's key and value sit in `bytes`: the value follows the key.
    struct Entry: Sendable {
        var keyStart: Int
        var valueStart: Int
        var valueEnd: Int
    }

    private(set) var bytes: [UInt8] = []
    /// In key order once `sort()` ran; in insertion order before.
    private(set) var entries: [Entry] = []

    var count: Int { entries.count }

    init() {}

    /// Sorted records from pairs in any order; a repeated key keeps its last value.
    init(_ pairs: some Sequence<([UInt8], [UInt8])>) {
        for (key, value) in pairs { append(key: key, value: value) }
        sort()
    }

    mutating func append(key: some Collection<UInt8>, value: some Collection<UInt8>) {
        let keyStart = bytes.count
        bytes.append(contentsOf: key)
        let valueStart = bytes.count
        bytes.append(contentsOf: value)
        entries.append(Entry(keyStart: keyStart, valueStart: valueStart, valueEnd: bytes.count))
    }

    /// Puts the entries in key order. A repeated key keeps its last value, as successive puts
    /// would (the validator forbids repeats; this is defence).
    mutating func sort() {
        let entries = self.entries
        let sorted: [Entry] = bytes.withUnsafeBytes { all in
            func key(_ entry: Entry) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: all[entry.keyStart..<entry.valueStart])
            }
            let isSorted = zip(entries, entries.dropFirst()).allSatisfy { BytewiseOrder.compare(key($0), key($1)) < 0 }
            if isSorted { return entries }
            // Key hashes come in file order, which is random for them. A big-endian 8-byte prefix
            // (zero padded, which keeps bytewise order) settles nearly every comparison as one
            // integer comparison; equal prefixes fall back to the bytes, then to insertion order.
            let prefixes = entries.map { BytewiseOrder.prefix(key($0)) }
            var order = Array(entries.indices)
            order.sort { left, right in
                if prefixes[left] != prefixes[right] { return prefixes[left] < prefixes[right] }
                let comparison = BytewiseOrder.compare(key(entries[left]), key(entries[right]))
                return comparison != 0 ? comparison < 0 : left < right
            }
            var unique: [Entry] = []
            unique.reserveCapacity(order.count)
            for (position, index) in order.enumerated() {
                let isLastOfItsKey = position + 1 == order.count
                    || BytewiseOrder.compare(key(entries[order[position + 1]]), key(entries[index])) != 0
                if isLastOfItsKey { unique.append(entries[index]) }
            }
            return unique
        }
        self.entries = sorted
    }

    /// Runs `body` with accessors for the keys and values, which point into `bytes`.
    func withRecords<Result>(
        _ body: (_ key: (Int) -> UnsafeRawBufferPointer, _ value: (Int) -> UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        try bytes.withUnsafeBytes { all in
            try body(
                { UnsafeRawBufferPointer(rebasing: all[entries[$0].keyStart..<entries[$0].valueStart]) },
                { UnsafeRawBufferPointer(rebasing: all[entries[$0].valueStart..<entries[$0].valueEnd]) }
            )
        }
    }

    /// The records as arrays, in order: for tests and small tables.
    var pairs: [([UInt8], [UInt8])] {
        withRecords { key, value in (0..<count).map { (Array(key($0)), Array(value($0))) } }
    }
}
