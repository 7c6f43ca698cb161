import PurserEngine
import PurserPolicy
@testable import PurserStore
import Testing

/// A reload writes only the policy records that changed, and the result is exactly the new policy.
@Suite struct PolicyReloadDiffTests {
    typealias S = StoreFixture

    @Test func reloadingTheSamePolicyWritesNothing() throws {
        let fixture = try StoreFixture()
        let summary = try fixture.store.loadPolicy(S.policy, version: "same-again", now: fixture.now)
        #expect(summary.recordsChangedCount == 0)
        #expect(try fixture.authorize(S.secrets.acmeProd).isAllowed)
        #expect(try fixture.store.policyMetadata()?.version == "same-again")
    }

    /// The daemon prepares records off its loop; what it stores must be exactly what a direct
    /// load stores, and the load time is the transaction's, not the preparation's.
    @Test func aPreparedPolicyStoresWhatThePolicyStores() throws {
        let fixture = try StoreFixture()
        let prepared = PreparedPolicy(S.policy, version: "prepared")
        #expect(prepared.keyHashes.count >= S.policy.keys.count)
        for records in [prepared.keys, prepared.keyHashes, prepared.tenants, prepared.accountTags, prepared.prices].map(\.pairs) {
            #expect(zip(records, records.dropFirst()).allSatisfy { BytewiseOrder.compare($0.0, $1.0) < 0 })
        }
        let later = Timestamp(nanosecondsSinceEpoch: fixture.now.nanosecondsSinceEpoch + 5_000_000_000)
        let summary = try fixture.store.loadPolicy(prepared, now: later)
        #expect(summary.recordsChangedCount == 0)
        #expect(summary.keysCount == S.policy.keys.count && summary.tenantsCount == S.policy.tenants.count)
        #expect(try fixture.store.policyMetadata()?.version == "prepared")
        #expect(try fixture.store.policyMetadata()?.loadedAt == later)
        #expect(try fixture.authorize(S.secrets.acmeProd).isAllowed)
    }

    /// The daemon compares off its loop, in a read transaction, and the loop writes only that.
    @Test func aDifferenceComputedBeforeTheTransactionIsApplied() throws {
        let fixture = try StoreFixture()
        var next = S.policy
        next.keys.removeAll { $0.id == "key_globex" }
        next.keys.append(KeyPolicy(id: "key_new", tenant: "globex", sha256: KeyHash(secret: "pk_test_new")))
        let prepared = PreparedPolicy(next, version: "v2")
        let difference = try fixture.store.policyDifference(prepared)
        // keys: -globex, +new; hashes: -globex, +new.
        #expect(difference.changesCount == 4)
        let summary = try fixture.store.loadPolicy(prepared, difference: difference, now: fixture.now)
        #expect(summary.recordsChangedCount == 4)
        #expect(try fixture.authorize(S.secrets.globex) == .deny(Denial(reason: .unknownKey)))
        #expect(try fixture.authorize("pk_test_new", model: "gpt-5.4-mini").isAllowed)
        #expect(try fixture.store.loadPolicy(prepared, now: fixture.now).recordsChangedCount == 0)
    }

    /// A difference computed against a policy that another load has since replaced must not be
    /// applied: the transaction notices and compares again.
    @Test func aStaleDifferenceIsNotApplied() throws {
        let fixture = try StoreFixture()
        var next = S.policy
        next.keys.removeAll { $0.id == "key_globex" }
        let prepared = PreparedPolicy(next, version: "v2")
        let stale = try fixture.store.policyDifference(prepared)

        // Meanwhile another load adds a key and disables one.
        var other = S.policy
        other.keys.append(KeyPolicy(id: "key_new", tenant: "globex", sha256: KeyHash(secret: "pk_test_new")))
        let umbrella = other.keys.firstIndex { $0.id == "key_umbrella" }!
        other.keys[umbrella].disabled = true
        try fixture.store.loadPolicy(other, version: "other", now: fixture.now)

        let summary = try fixture.store.loadPolicy(prepared, difference: stale, now: fixture.now)
        // From "other" to "next": -globex and -new (records and hashes), umbrella enabled again.
        #expect(summary.recordsChangedCount == 5)
        #expect(try fixture.authorize("pk_test_new", model: "gpt-5.4-mini") == .deny(Denial(reason: .unknownKey)))
        #expect(try fixture.authorize(S.secrets.globex) == .deny(Denial(reason: .unknownKey)))
        #expect(try fixture.authorize(S.secrets.umbrella).isAllowed)
        #expect(try fixture.store.loadPolicy(prepared, now: fixture.now).recordsChangedCount == 0)
    }

    /// Unordered records with repeats come out in LMDB's order, the last of each repeat kept.
    @Test func recordsArePutInKeyOrderKeepingTheLastRepeat() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let records = (0..<Int.random(in: 0...40, using: &generator)).map { index in
                ((0..<Int.random(in: 0...10, using: &generator)).map { _ in UInt8.random(in: 0...2, using: &generator) }, [UInt8(truncatingIfNeeded: index)])
            }
            let ordered = SortedRecords(records).pairs
            var expected: [[UInt8]: [UInt8]] = [:]
            for (key, value) in records { expected[key] = value }
            #expect(ordered.count == expected.count)
            #expect(zip(ordered, ordered.dropFirst()).allSatisfy { $0.0.lexicographicallyPrecedes($1.0) })
            #expect(ordered.allSatisfy { expected[$0.0] == $0.1 })
        }
    }

    @Test func reloadAppliesAddedRemovedAndChangedRecordsOnly() throws {
        let fixture = try StoreFixture()
        var next = S.policy
        // Removed: key_globex (its record and its hash). Changed: key_umbrella disabled. Rotation
        // finished: key_rotated loses its previous hash. Added: key_new. Removed: a price.
        next.keys.removeAll { $0.id == "key_globex" }
        let umbrella = next.keys.firstIndex { $0.id == "key_umbrella" }!
        next.keys[umbrella].disabled = true
        let rotated = next.keys.firstIndex { $0.id == "key_rotated" }!
        next.keys[rotated].previousSHA256 = nil
        next.keys[rotated].previousValidUntil = nil
        next.keys.append(KeyPolicy(id: "key_new", tenant: "globex", sha256: KeyHash(secret: "pk_test_new")))
        let droppedModel = next.prices.keys.sorted().first!
        next.prices.removeValue(forKey: droppedModel)

        let summary = try fixture.store.loadPolicy(next, version: "v2", now: fixture.now)
        // keys: -globex, ~umbrella, ~rotated, +new = 4; hashes: -globex, -rotated old, +new = 3; prices: 1.
        #expect(summary.recordsChangedCount == 8)
        #expect(try fixture.authorize(S.secrets.globex) == .deny(Denial(reason: .unknownKey)))
        #expect(try fixture.authorize(S.secrets.rotatedOld) == .deny(Denial(reason: .unknownKey)))
        #expect(try fixture.authorize(S.secrets.rotatedNew).isAllowed)
        #expect(try fixture.authorize(S.secrets.umbrella) == .deny(Denial(reason: .keyDisabled)))
        #expect(try fixture.authorize("pk_test_new", model: "gpt-5.4-mini").isAllowed)
        #expect(try fixture.authorize(S.secrets.acmeProd).isAllowed)

        // And back: the original policy again is the same number of changes the other way.
        let back = try fixture.store.loadPolicy(S.policy, version: "v3", now: fixture.now)
        #expect(back.recordsChangedCount == 8)
        #expect(try fixture.authorize(S.secrets.globex, model: "gpt-5.4-mini").isAllowed)
        #expect(try fixture.authorize("pk_test_new", model: "gpt-5.4-mini") == .deny(Denial(reason: .unknownKey)))
    }
}

@Suite struct BytewiseOrderTests {
    /// The diff merges against an LMDB cursor, so its order must be LMDB's: bytewise, prefix first.
    @Test func agreesWithLexicographicOrderOnRandomKeys() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let left = (0..<Int.random(in: 0...4, using: &generator)).map { _ in UInt8.random(in: 0...3, using: &generator) }
            let right = (0..<Int.random(in: 0...4, using: &generator)).map { _ in UInt8.random(in: 0...3, using: &generator) }
            let comparison = BytewiseOrder.compare(left, right)
            #expect((comparison < 0) == left.lexicographicallyPrecedes(right), "\(left) \(right)")
            #expect((comparison == 0) == (left == right), "\(left) \(right)")
        }
    }

    /// The sort's shortcut: a smaller prefix must mean an earlier key, including across the
    /// 8-byte boundary and for keys shorter than 8 bytes (zero padding).
    @Test func prefixesNeverContradictTheOrder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let left = (0..<Int.random(in: 0...11, using: &generator)).map { _ in UInt8.random(in: 0...2, using: &generator) }
            let right = (0..<Int.random(in: 0...11, using: &generator)).map { _ in UInt8.random(in: 0...2, using: &generator) }
            let leftPrefix = BytewiseOrder.prefix(left), rightPrefix = BytewiseOrder.prefix(right)
            if leftPrefix < rightPrefix { #expect(left.lexicographicallyPrecedes(right), "\(left) \(right)") }
            if leftPrefix > rightPrefix { #expect(right.lexicographicallyPrecedes(left), "\(left) \(right)") }
        }
    }
}
