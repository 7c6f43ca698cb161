import PurserPolicy
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The plans most recently decoded from tenant records, each kept with the bytes it came from.
///
/// Every tenant record ends with a full copy of its plan, and an authorize decodes one: the
/// plan's model patterns parsed again, its strings and budgets allocated again, about a third of
/// the record's decoding, for what a policy has only a handful of. The bytes are compared, not a
/// plan id trusted, so the answer is exactly what decoding those bytes gives, whatever the policy
/// loaded since; a policy with more distinct plans than the cache holds still decodes correctly,
/// only without the saving.
final class DecodedPlanCache: Sendable {
    static let shared = DecodedPlanCache()

    static let entriesCountMax = 16

    private struct Entries {
        var records: [(bytes: [UInt8], plan: Plan)] = []
        /// The entry replaced when the cache is full: round robin.
        var nextReplaced = 0
    }

    private let entries = Mutex(Entries())

    /// Reads a plan that runs to the end of `reader`'s record, from the cache when an earlier
    /// record had exactly the same bytes there.
    func plan(readingToEndOf reader: inout RecordReader) throws(RecordCorrupted) -> Plan {
        let rest = reader.remainingBytes
        let cached = entries.withLock { entries -> Plan? in
            for entry in entries.records where entry.bytes.count == rest.count {
                let isEqual = entry.bytes.withUnsafeBytes { stored in
                    rest.count == 0 || memcmp(stored.baseAddress!, rest.baseAddress!, rest.count) == 0
                }
                if isEqual { return entry.plan }
            }
            return nil
        }
        if let cached {
            try reader.skip(rest.count)
            return cached
        }
        let plan = Plan(
            id: try reader.readString(), models: try reader.readModelPatterns(), rateLimits: try reader.readRateLimits(),
            budgets: try reader.readBudgets()
        )
        // A plan followed by anything else is a corrupted record, which `finish()` reports; only
        // a plan that is exactly the rest of its record may stand for those bytes.
        if reader.isAtEnd {
            let bytes = Array(rest)
            entries.withLock { entries in
                if entries.records.count < Self.entriesCountMax {
                    entries.records.append((bytes, plan))
                } else {
                    entries.records[entries.nextReplaced] = (bytes, plan)
                    entries.nextReplaced = (entries.nextReplaced + 1) % Self.entriesCountMax
                }
            }
        }
        return plan
    }
}
