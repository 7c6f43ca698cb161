import ArgumentParser
import Foundation
import PurserEngine
import PurserLedger
import PurserPolicy
import PurserServer

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that report medians and ratios to a baseline measured in the same run.",
        subcommands: [LedgerBenchCommand.self, StoreBenchCommand.self]
    )
}

/// `purser bench ledger`: fills a ledger with synthetic settled requests, then times the queries
/// a business runs on it against a full scan of the events table measured in the same run.
struct LedgerBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Time usage --month for one tenant and a full invoice over a large ledger."
    )

    @Option(help: "Settled requests to generate.") var events = 1_000_000
    @Option(help: "Tenants they are spread over.") var tenants = 1_000
    @Option(help: "Runs of each query; medians are reported.") var runs = 5
    @Option(help: "Where to build the ledger (default: a temporary directory, removed afterwards).") var directory: String?

    func run() throws {
        let root = directory ?? NSTemporaryDirectory() + "purser-bench-ledger-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        let path = root + "/" + LedgerDatabase.fileName
        try? FileManager.default.removeItem(atPath: path)
        let ledger = try LedgerDatabase(path: path)
        defer { ledger.close() }

        // November 2026, spread evenly; a deterministic generator so runs are comparable.
        let monthStart = Timestamp(secondsSinceEpoch: 1_793_491_200)  // 2026-11-01T00:00:00Z
        let monthSeconds: Int64 = 30 * 86_400
        let models = ["gpt-5.4", "gpt-5.4-mini", "claude-sonnet-4-6", "claude-haiku-4-5"]
        let tags = [["chat"], ["summarize"], ["batch-eval"], []]
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let started = WallClock.monotonicNanoseconds()
        var batch: [LedgerEvent] = []
        batch.reserveCapacity(LedgerDatabase.appendEventsCountMax)
        for sequence in 1...events {
            let tenant = Int(next() % UInt64(tenants))
            let inputTokens = Int64(next() % 4_000)
            let outputTokens = Int64(next() % 1_000)
            var event = LedgerEvent(
                sequence: UInt64(sequence), kind: .settle,
                time: monthStart.adding(seconds: Int64(sequence - 1) * monthSeconds / Int64(events)),
                tenantId: "tenant\(tenant)", keyId: "key\(tenant)_\(next() % 3)", tags: tags[Int(next() % 4)],
                model: models[Int(next() % 4)], inputTokens: inputTokens, outputTokens: outputTokens,
                costMicros: inputTokens * 3 + outputTokens * 15, estimateMicros: 20_000, status: next() % 50 == 0 ? .error : .ok,
                requestId: "r\(sequence)", reservationId: "rsv_\(sequence)", policyVersion: "bench",
                scopes: [.key("key\(tenant)"), .tenant("tenant\(tenant)")]
            )
            event.retries = 0
            batch.append(event)
            if batch.count == LedgerDatabase.appendEventsCountMax || sequence == events {
                try ledger.append(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        let ingestSeconds = Double(WallClock.monotonicNanoseconds() - started) / 1e9

        func median(_ body: () throws -> Void) rethrows -> Double {
            var samples: [Int64] = []
            for _ in 0..<runs {
                let start = WallClock.monotonicNanoseconds()
                try body()
                samples.append(WallClock.monotonicNanoseconds() - start)
            }
            return Double(samples.sorted()[samples.count / 2]) / 1e6
        }
        var checksum: Int64 = 0
        let baseline = try median {
            try ledger.read {
                try ledger.scanEventCosts { checksum = $0 }
            }
        }
        let usage = try median {
            let report = try UsageReport.build(
                ledger, filter: UsageFilter(tenant: "tenant7", fromDay: "2026-11-01", toDay: "2026-11-30"), breakdowns: [.model, .day, .tag]
            )
            precondition(report.summary.requests > 0)
        }
        var invoiceTotal: Int64 = 0
        let invoice = try median {
            invoiceTotal = try Invoice.build(ledger, month: "2026-11", markupBasisPoints: 2_000).totalCostMicros
        }
        precondition(invoiceTotal == checksum, "the invoice total must equal the sum of the events")
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        print("purser bench ledger: \(events) events, \(tenants) tenants, one month; medians of \(runs) runs")
        print("ingest: \(String(format: "%.1f", ingestSeconds)) s (\(Int(Double(events) / ingestSeconds)) events/s, batches of \(LedgerDatabase.appendEventsCountMax)); ledger file \(fileBytes / 1_048_576) MiB")
        print("query                                   median ms   / full scan")
        for (name, value) in [("full scan of events (baseline)", baseline), ("usage --month, one tenant, 3 breakdowns", usage), ("invoice --month, every tenant", invoice)] {
            print(name.padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%9.1f   %9.3f", value, value / baseline))
        }
        print("invoice total = sum of events = \(invoiceTotal) micros")
    }
}
