import ArgumentParser
import PurserLedger
import PurserPolicy
import PurserServer
import PurserStore

enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
    case csv
}

/// Opens the ledger of a data directory read-only: safe while the daemon writes to it.
func openLedger(data: String) throws -> LedgerDatabase {
    let path = data + "/" + LedgerDatabase.fileName
    do {
        return try LedgerDatabase(path: path, readOnly: true)
    } catch {
        throw ValidationError("cannot open the ledger \(path): \(error) (has `purser serve` run with --data \(data)?)")
    }
}

struct UsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Usage from the ledger: a summary and breakdowns, as a per-customer usage page shows.",
        discussion: "Reads the daily rollups; works while the daemon runs. Days are UTC; --to is included. Default period: this month."
    )

    @Option(help: "The data directory.") var data = "./purser-data"
    @Option(help: "Only this tenant.") var tenant: String?
    @Option(help: "Only this key id.") var key: String?
    @Option(help: "Only requests with this tag.") var tag: String?
    @Option(help: "First day, YYYY-MM-DD.") var from: String?
    @Option(help: "Last day, YYYY-MM-DD (included).") var to: String?
    @Option(help: "A calendar month, YYYY-MM.") var month: String?
    @Option(help: "The last N days including today, e.g. 30d.") var window: String?
    @Option(parsing: .upToNextOption, help: "Breakdowns: tenant, key, model, day, tag (default: model day tag).") var by: [String] = []
    @Option(help: "table, json or csv.") var format = ReportFormat.table

    func validate() throws {
        let ways = [from != nil || to != nil, month != nil, window != nil].filter { $0 }.count
        guard ways <= 1 else { throw ValidationError("give one of --from/--to, --month or --window") }
        guard (from == nil) == (to == nil) else { throw ValidationError("--from and --to go together") }
        for dimension in by where UsageDimension(rawValue: dimension) == nil {
            throw ValidationError("--by takes tenant, key, model, day or tag, not \(dimension)")
        }
    }

    func run() throws {
        let range = try UsageRange.resolve(from: from, to: to, month: month, window: window, now: WallClock.now())
        let dimensions = by.isEmpty ? [.model, .day, .tag] : by.compactMap(UsageDimension.init(rawValue:))
        let ledger = try openLedger(data: data)
        defer { ledger.close() }
        let report = try UsageReport.build(
            ledger, filter: UsageFilter(tenant: tenant, key: key, tag: tag, fromDay: range.from, toDay: range.to), breakdowns: dimensions
        )
        switch format {
        case .json: print(report.json)
        case .csv: print(report.csv, terminator: "")
        case .table: print(report.table, terminator: "")
        }
    }
}

/// Turns the CLI's ways of naming a period into an inclusive day range.
enum UsageRange {
    static func resolve(from: String?, to: String?, month: String?, window: String?, now: Timestamp) throws -> (from: String, to: String) {
        if let from, let to {
            guard LedgerCalendar.parseDay(from) != nil, LedgerCalendar.parseDay(to) != nil, from <= to else {
                throw ValidationError("--from and --to must be YYYY-MM-DD days, --from not after --to")
            }
            return (from, to)
        }
        if let window {
            guard window.hasSuffix("d"), let days = Int64(window.dropLast()), (1...36_500).contains(days) else {
                throw ValidationError("--window must be a number of days such as 30d")
            }
            return (LedgerCalendar.dayKey(now.adding(seconds: -(days - 1) * 86_400)), LedgerCalendar.dayKey(now))
        }
        let monthKey = month ?? LedgerCalendar.monthKey(now)
        guard let range = LedgerCalendar.parseMonth(monthKey), let next = LedgerCalendar.parseDay(range.next) else {
            throw ValidationError("--month must be YYYY-MM")
        }
        return (range.first, LedgerCalendar.dayKey(CivilDate(daysSinceEpoch: next.daysSinceEpoch - 1)))
    }
}

struct InvoiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoice",
        abstract: "One line per tenant for a month: usage cost and the billed amount after a markup, in integer micros.",
        discussion: """
            Billed = cost × (100 + markup) / 100 per tenant, rounded half up to a whole micro once per line; \
            the total is the sum of the lines. The total cost equals that month's settled events exactly.
            """
    )

    @Option(help: "The data directory.") var data = "./purser-data"
    @Option(help: "The month, YYYY-MM.") var month: String
    @Option(name: .customLong("markup-percent"), help: "Markup in percent, up to two decimals (e.g. 20 or 12.5).") var markupPercent = "0"
    @Option(help: "csv or json.") var format = ReportFormat.csv

    func run() throws {
        guard let points = Invoice.markupBasisPoints(percent: markupPercent) else {
            throw ValidationError("--markup-percent must be a percent from -100 to 1000 with at most two decimals")
        }
        let ledger = try openLedger(data: data)
        defer { ledger.close() }
        let invoice = try Invoice.build(ledger, month: month, markupBasisPoints: points)
        switch format {
        case .json:
            var root = JSONText()
            root.add("month", invoice.month)
            root.add("markup_basis_points", invoice.markupBasisPoints)
            root.add("lines", objects: invoice.lines.map { line in
                var object = JSONText()
                object.add("tenant", line.tenant)
                object.add("requests", line.requests)
                object.add("cost_micros", line.costMicros)
                object.add("billed_micros", line.billedMicros)
                return object
            })
            root.add("total_cost_micros", invoice.totalCostMicros)
            root.add("total_billed_micros", invoice.totalBilledMicros)
            print(root.text)
        case .csv, .table:
            print("tenant,requests,cost_micros,billed_micros")
            for line in invoice.lines {
                print("\(line.tenant),\(line.requests),\(line.costMicros),\(line.billedMicros)")
            }
            print("total,\(invoice.lines.reduce(0) { $0 + $1.requests }),\(invoice.totalCostMicros),\(invoice.totalBilledMicros)")
        }
    }
}

struct ReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Check that the ledger equals the LMDB counters for every scope and period, and the rollups equal the events.",
        discussion: "Exit status: 0 when everything agrees, 1 with the differences printed otherwise. Open reservations are reported apart."
    )

    @Option(help: "The data directory.") var data = "./purser-data"
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let now = WallClock.now()
        let opened = try DataDirectoryStore(directory: data)
        let taken = try opened.store.snapshot(at: now)
        opened.close()
        let ledgerPath = data + "/" + LedgerDatabase.fileName
        // A data directory whose daemon never drained anything has no ledger yet: compare against
        // an empty one.
        let ledger = try LedgerDatabase(path: ledgerPath, readOnly: (try? LedgerDatabase(path: ledgerPath, readOnly: true)) != nil)
        defer { ledger.close() }
        let result = try Reconciliation.run(
            snapshot: CounterSnapshot(states: taken.states, outboxEvents: taken.outbox, openReservations: taken.open, lastSequence: taken.lastSequence, time: now),
            ledger: ledger
        )
        if json {
            var root = JSONText()
            root.add("consistent", result.isConsistent)
            root.add("scopes_checked", Int64(result.scopesChecked))
            root.add("events_in_ledger", Int64(result.eventsInLedger))
            root.add("events_pending", Int64(result.eventsPending))
            root.add("differences", objects: result.differences.map { difference in
                var object = JSONText()
                object.add("scope", difference.scope)
                object.add("period", difference.period)
                object.add("period_key", difference.periodKey)
                object.add("ledger_micros", difference.ledgerMicros)
                object.add("counter_micros", difference.counterMicros)
                return object
            })
            root.add("rollup_differences", result.rollupDifferences)
            root.add("open_reservations", Int64(result.openReservationsCount))
            var reserved = JSONText()
            for (tenant, micros) in result.openReservedMicrosByTenant.sorted(by: { $0.key < $1.key }) { reserved.add(tenant, micros) }
            root.add("open_reserved_micros", raw: reserved.text)
            print(root.text)
        } else {
            for difference in result.differences { print("difference: \(difference)") }
            for problem in result.rollupDifferences { print("difference: \(problem)") }
            let reserved = result.openReservedMicrosByTenant.values.reduce(0, +)
            let summary = "\(result.scopesChecked) scopes, \(result.eventsInLedger) events in the ledger, \(result.eventsPending) pending in the outbox; "
                + "\(result.openReservationsCount) reservations open holding \(reserved) micros (not yet spent)"
            print(result.isConsistent ? "ok: \(summary)" : "MISMATCH: \(result.differences.count + result.rollupDifferences.count) differences; \(summary)")
        }
        if !result.isConsistent { throw ExitCode(1) }
    }
}
