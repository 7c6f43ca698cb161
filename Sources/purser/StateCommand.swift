import PurserLedger
import ArgumentParser
import PurserEngine
import PurserPolicy
import PurserServer
import PurserStore

/// `purser state`: reads the counters straight from LMDB, with the daemon running or stopped.
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Print every scope's counters for the current UTC day and month, read directly from the data directory."
    )

    @Option(help: "The data directory.") var data = "./purser-data"
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let opened = try DataDirectoryStore(directory: data)
        defer { opened.close() }
        let store = opened.store
        let now = WallClock.now()
        let indexes = PeriodIndexes(at: now)
        let states = try store.allStates().mapValues { $0.rolled(to: indexes) }
        let openReservations = try store.openReservations().count
        let outboxEvents = try store.outboxDepth()
        let version = try store.policyMetadata()?.version ?? ""
        if json {
            var scopes = JSONText()
            for (scope, state) in states.sorted(by: { $0.key < $1.key }) {
                var object = JSONText()
                for period in BudgetPeriod.allCases {
                    let counter = state.counter(for: period)
                    var periodObject = JSONText()
                    periodObject.add("spent_micros", counter.spentMicros)
                    periodObject.add("reserved_micros", counter.reservedMicros)
                    object.add(period.rawValue, raw: periodObject.text)
                }
                object.add("inflight", state.inflightCount)
                object.add("balance_micros", state.balanceMicros)
                object.add("balance_reserved_micros", state.balanceReservedMicros)
                object.add("credited_micros", state.creditedMicros)
                scopes.add(scope.description, raw: object.text)
            }
            var root = JSONText()
            root.add("time", now.description)
            root.add("policy_version", version)
            root.add("scopes", raw: scopes.text)
            root.add("open_reservations", Int64(openReservations))
            root.add("outbox_events", Int64(outboxEvents))
            print(root.text)
            return
        }
        print("time \(now)  policy \(version)  open reservations \(openReservations)  outbox events \(outboxEvents)")
        for (scope, state) in states.sorted(by: { $0.key < $1.key }) {
            var line = scope.description
            for period in BudgetPeriod.allCases {
                let counter = state.counter(for: period)
                line += "  \(period.rawValue) spent=\(counter.spentMicros) reserved=\(counter.reservedMicros)"
            }
            line += "  inflight=\(state.inflightCount)"
            if state.creditedMicros != 0 || state.balanceMicros != 0 {
                line += "  balance=\(state.balanceMicros)"
            }
            print(line)
        }
    }
}
