import Foundation
import PurserEngine
import PurserPolicy
@testable import PurserStore
import Testing

/// A map that fills up, on real LMDB: with headroom the store refuses new reservations while the
/// ones in flight can all still be settled; without it, a full map fails their settles too.
@Suite struct MapHeadroomTests {
    typealias J = StoreJournalTests
    static let secret = "pk_headroom"
    static let start = Timestamp(secondsSinceEpoch: 1_795_348_800)
    /// Small enough to fill in a test (LMDB allocates whole 4 KiB pages).
    static let mapBytes = 1 << 20
    /// How many reservations stay open while the map fills: as on a daemon, most requests were
    /// settled long before, and only the ones in flight are open.
    static let openCount = 50

    static var policy: Policy {
        Policy(
            prices: ["m1": ModelPrice(inputMicrosPerMillionTokens: 1_000_000, outputMicrosPerMillionTokens: 2_000_000)],
            plans: ["p": Plan(id: "p", models: [try! ModelPattern("*")])],
            tenants: ["t": Tenant(id: "t", name: "T", plan: "p")],
            keys: [KeyPolicy(id: "k", tenant: "t", sha256: KeyHash(secret: secret))]
        )
    }

    enum Ending {
        case refused(Denial)
        case failed(StoreError)
    }

    static func open(_ machine: J.Directory, headroomPercent: Int) throws -> StateStore {
        let store = try StateStore(directory: machine.path, options: StoreOptions(
            mapSizeBytes: mapBytes, commitWithoutSync: true, journal: true, mapHeadroomPercent: headroomPercent
        ))
        try store.loadPolicy(policy, version: "headroom", now: start)
        try store.checkpoint()
        return store
    }

    /// Traffic as a daemon sees it: each request authorized, then settled `openCount` requests
    /// later, the outbox drained every 20 settles (the ledger), and a checkpoint after every
    /// commit (the daemon's tick; it moves the synced-snapshot pin, so freed pages can be reused).
    /// Ends when the store refuses an authorize or fails. Returns the reservations still open.
    static func fill(_ store: StateStore) throws -> (open: [String], ending: Ending) {
        var open: [String] = []
        var settled: UInt64 = 0
        for index in 0..<100_000 {
            do {
                let decision = try store.authorize(
                    secret: secret, request: AuthorizeRequest(requestId: "fill-\(index)", model: "m1", tags: [], estimate: .micros(1)),
                    now: start
                )
                switch decision {
                case .allow(let allowance): open.append(allowance.reservationId)
                case .deny(let denial): return (open, .refused(denial))
                }
                try store.checkpoint()
                if open.count > openCount {
                    _ = try store.settle(SettleRequest(reservationId: open.removeFirst(), cost: .micros(1), status: .ok), now: start)
                    settled += 1
                    if settled % 20 == 0 { _ = try store.trimOutbox(through: settled) }
                    try store.checkpoint()
                }
            } catch {
                return (open, .failed(error))
            }
        }
        Issue.record("a \(mapBytes)-byte map never filled")
        return (open, .failed(.schemaMismatch(found: 0, expected: 0)))
    }

    /// Settles every reservation in `open`, a checkpoint after each; returns how many failed.
    static func settleAll(_ open: [String], in store: StateStore) throws -> Int {
        var failed = 0
        for reservationId in open {
            do {
                let answer = try store.settle(SettleRequest(reservationId: reservationId, cost: .micros(1), status: .ok), now: start)
                guard case .settled(_, _, replayed: false) = answer else { Issue.record("\(answer)"); return failed }
                try store.checkpoint()
            } catch {
                failed += 1
            }
        }
        return failed
    }

    @Test func withHeadroomEveryReservationInFlightCanStillBeSettled() throws {
        let machine = J.Directory()
        let store = try Self.open(machine, headroomPercent: 25)
        defer { store.close() }
        #expect(try !store.refusesNewReservations)
        let (open, ending) = try Self.fill(store)
        guard case .refused(let denial) = ending else { Issue.record("not refused: \(ending)"); return }
        #expect(denial.reason == .unavailable)
        #expect(denial.detail?.contains("nearly full") == true)
        #expect(try store.refusesNewReservations)
        #expect(open.count == Self.openCount)
        // A retry of a request already allowed is still answered, from its reservation.
        let first = try #require(try store.reservation(id: open[0]))
        let retried = try store.authorize(
            secret: Self.secret, request: AuthorizeRequest(requestId: first.requestId, model: "m1", tags: [], estimate: .micros(1)), now: Self.start
        )
        #expect(retried == .allow(first.replayedAllowance))
        #expect(try Self.settleAll(open, in: store) == 0)
        #expect(try store.openReservations().isEmpty)
    }

    /// What the headroom prevents: without it the same traffic fills the map, and then the
    /// reservations in flight cannot be settled.
    @Test func withoutHeadroomAFullMapFailsTheSettlesOfReservationsInFlight() throws {
        let machine = J.Directory()
        let store = try Self.open(machine, headroomPercent: 0)
        defer { store.close() }
        let (open, ending) = try Self.fill(store)
        guard case .failed = ending else { Issue.record("not a failure: \(ending)"); return }
        #expect(try !store.refusesNewReservations)
        #expect(try Self.settleAll(open, in: store) > 0)
    }
}
