import Foundation
import PurserEngine
import PurserPolicy
import PurserStore
import Testing

/// `StoreOptions.writeMap` (`purser serve --write-map`) changes how pages reach the file, never
/// what is stored: the same operations give the same answers, and a synced settle is there after
/// the store is closed and opened again.
@Suite struct WriteMapTests {
    @Test func writeMapStoreKeepsWhatItAnsweredAcrossAReopen() throws {
        let directory = NSTemporaryDirectory() + "purser-writemap-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let options = StoreOptions(mapSizeBytes: 64 << 20, commitWithoutSync: true, writeMap: true)
        let now = StoreFixture.start

        var store: StateStore? = try StateStore(directory: directory, options: options)
        try store!.loadPolicy(StoreFixture.policy, version: "write-map-test", now: now)
        let decision = try store!.authorize(
            secret: StoreFixture.secrets.acmeProd,
            request: AuthorizeRequest(requestId: "write-map-1", model: "gpt-5.4", estimate: .micros(5_000)), now: now
        )
        guard case .allow(let allowance) = decision else {
            Issue.record("expected an allow, got \(decision)")
            return
        }
        let answer = try store!.settle(SettleRequest(reservationId: allowance.reservationId, cost: .micros(4_200), status: .ok), now: now)
        guard case .settled(_, let settlement, false) = answer else {
            Issue.record("expected a first settle, got \(answer)")
            return
        }
        #expect(settlement.costMicros == 4_200)
        try store!.sync()
        store!.close()
        store = nil

        let reopened = try StateStore(directory: directory, options: options)
        defer { reopened.close() }
        let keyState = try reopened.state(of: .key("key_acme_prod")) ?? ScopeState()
        #expect(keyState.total.spentMicros == 4_200)
        #expect(keyState.total.reservedMicros == 0)
        let replay = try reopened.settle(SettleRequest(reservationId: allowance.reservationId, cost: .micros(9_999), status: .ok), now: now)
        guard case .settled(_, let replayed, true) = replay else {
            Issue.record("expected the stored settle replayed, got \(replay)")
            return
        }
        #expect(replayed.costMicros == 4_200)
    }
}
