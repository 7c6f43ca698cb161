import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The policy metadata decoded from the last `policy` record a write transaction read, kept with
/// that record's bytes.
///
/// Every authorize, settle and release needs the metadata, and it changes only when a policy is
/// loaded. Decoding it (its version is a 64-character string) on every operation cost more than
/// comparing ~120 bytes, so a transaction decodes it only when the stored bytes differ from the
/// ones last decoded. Comparing the bytes, not trusting a version number, keeps it exact: what is
/// returned is always what the record in this transaction says.
final class PolicyMetadataCache: Sendable {
    private let last = Mutex<(record: [UInt8], metadata: PolicyMetadata)?>(nil)

    /// The metadata `record` holds.
    func metadata(decoding record: UnsafeRawBufferPointer) throws(RecordCorrupted) -> PolicyMetadata {
        let cached = last.withLock { last -> PolicyMetadata? in
            guard let last, last.record.count == record.count else { return nil }
            let isEqual = last.record.withUnsafeBytes { stored in
                record.count == 0 || memcmp(stored.baseAddress!, record.baseAddress!, record.count) == 0
            }
            return isEqual ? last.metadata : nil
        }
        if let cached { return cached }
        let metadata = try PolicyMetadata(borrowing: record)
        let copy = Array(record)
        last.withLock { $0 = (copy, metadata) }
        return metadata
    }
}
