/// What a policy load must write: per policy database, the records to put and the keys to delete.
///
/// Computed in a read-only transaction off the writer's event loop (`StateStore.policyDifference`)
/// and applied by the load's write transaction, which checks first that the policy it was computed
/// against is still the one stored: the policy metadata (version and load time, rewritten by every
/// load) must be byte for byte the same. Loads are serialized, so that is rare; when it happens the
/// transaction compares again itself.
public struct PolicyDifference: Sendable {
    /// The stored policy metadata the difference was computed against.
    let storedMetadata: [UInt8]?
    /// In the order of `StoreDatabases.policyRecords(of:)`.
    let byDatabase: [RecordsDifference]

    /// Records to put or delete, in total.
    public var changesCount: Int { byDatabase.reduce(0) { $0 + $1.changesCount } }
}

/// One database's part of a `PolicyDifference`.
struct RecordsDifference: Sendable {
    /// Positions in the desired records (in key order) to put: new or changed.
    var puts: [Int] = []
    /// Stored keys the desired records do not have.
    var deletions: [[UInt8]] = []

    var changesCount: Int { puts.count + deletions.count }
}
