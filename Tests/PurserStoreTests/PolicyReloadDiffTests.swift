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
