import Foundation
import PurserEngine
import PurserLedger
import PurserPolicy
import PurserStore

/// A real LMDB store and a real SQLite ledger in one temporary directory, with the drain the
/// daemon's ledger service performs (append, then trim) available step by step.
final class LedgerFixture {
    let directory: String
    let store: StateStore
    var ledger: LedgerDatabase
    var now: Timestamp
    private var requestNumber = 0

    static let secrets = ["pk_l_a1", "pk_l_a2", "pk_l_b1"]

    static var policy: Policy {
        let pattern = try! ModelPattern("*")
        return Policy(
            prices: ["m1": ModelPrice(inputMicrosPerMillionTokens: 1_000_000, outputMicrosPerMillionTokens: 2_000_000)],
            plans: ["p": Plan(id: "p", models: [pattern])],
            tenants: [
                "a": Tenant(id: "a", name: "A", plan: "p", tags: ["chat": TagPolicy(budgets: [])]),
                "b": Tenant(id: "b", name: "B", plan: "p", prepaid: true),
            ],
            keys: [
                KeyPolicy(id: "a1", tenant: "a", sha256: KeyHash(secret: secrets[0]), defaultTag: "web"),
                KeyPolicy(id: "a2", tenant: "a", sha256: KeyHash(secret: secrets[1])),
                KeyPolicy(id: "b1", tenant: "b", sha256: KeyHash(secret: secrets[2])),
            ],
            tags: ["batch": TagPolicy(budgets: [])]
        )
    }

    init(now: Timestamp) throws {
        directory = NSTemporaryDirectory() + "purser-ledger-" + UUID().uuidString
        store = try StateStore(directory: directory)
        try store.loadPolicy(Self.policy, version: "v1", now: now)
        ledger = try LedgerDatabase(path: directory + "/" + LedgerDatabase.fileName)
        self.now = now
    }

    deinit {
        ledger.close()
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Authorize then settle; returns the charged cost.
    @discardableResult
    func spend(_ secretIndex: Int, model: String = "m1", tags: [String] = [], micros: Int64, status: SettleStatus = .ok) throws -> Int64 {
        requestNumber += 1
        let decision = try store.authorize(
            secret: Self.secrets[secretIndex],
            request: AuthorizeRequest(requestId: "r\(requestNumber)", model: model, tags: tags, estimate: .micros(micros)), now: now
        )
        guard case .allow(let allowance) = decision else { throw Failure(description: "denied: \(decision)") }
        guard case .settled(_, let settlement, _) = try store.settle(
            SettleRequest(reservationId: allowance.reservationId, cost: .micros(micros), status: status), now: now
        ) else { throw Failure(description: "settle failed") }
        return settlement.costMicros
    }

    /// What the ledger service does on each flush: append a batch, then trim it from the outbox.
    func drain(trim: Bool = true) throws {
        let events = try store.outboxEvents(after: try ledger.highWaterSequence(), countMax: LedgerDatabase.appendEventsCountMax)
        let highWater = try ledger.append(events)
        if trim { try store.trimOutbox(through: highWater) }
    }

    func reconcile() throws -> Reconciliation {
        let taken = try store.snapshot(at: now)
        return try Reconciliation.run(
            snapshot: CounterSnapshot(states: taken.states, outboxEvents: taken.outbox, openReservations: taken.open, lastSequence: taken.lastSequence, time: now),
            ledger: ledger
        )
    }

    struct Failure: Error, CustomStringConvertible { var description: String }
}
