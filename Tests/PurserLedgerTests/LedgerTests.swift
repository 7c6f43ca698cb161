import Foundation
import PurserEngine
@testable import PurserLedger
import PurserPolicy
import PurserSQLite
import Testing

@Suite struct LedgerTests {
    /// 2026-11-30T23:59:59Z: one second before both a day and a month end.
    static let lastSecondOfNovember = Timestamp(secondsSinceEpoch: 1_796_083_199)

    @Test func theWriterHasALargerPageCacheThanReaders() throws {
        let directory = NSTemporaryDirectory() + "purser-ledger-cache-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try LedgerDatabase(path: directory + "/" + LedgerDatabase.fileName)
        defer { writer.close() }
        let reader = try LedgerDatabase(path: directory + "/" + LedgerDatabase.fileName, readOnly: true)
        defer { reader.close() }
        #expect(try writer.database.prepare("PRAGMA cache_size").firstRow()?.first == .integer(-Int64(LedgerDatabase.writerCacheKibibytes)))
        #expect(try reader.database.prepare("PRAGMA cache_size").firstRow()?.first == .integer(-2_000))
    }

    /// The drain trims LMDB's outbox as soon as the ledger's commit returns, so that commit must
    /// already be on disk: the writer fsyncs its WAL at every commit (`synchronous = FULL`). With
    /// NORMAL a power loss could keep the trim and lose the commit, and the events with it.
    @Test func theWriterFsyncsEveryCommitBeforeTheOutboxIsTrimmed() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        #expect(try fixture.ledger.database.prepare("PRAGMA synchronous").firstRow()?.first == .integer(2))
        #expect(try fixture.ledger.database.prepare("PRAGMA journal_mode").firstRow()?.first == .text("wal"))
    }

    @Test func drainIsExactlyOnceEvenWhenTheTrimIsLost() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 1_000)
        try fixture.spend(1, micros: 2_000)
        // A crash after the SQLite commit, before the outbox trim: the same events are read again.
        try fixture.drain(trim: false)
        #expect(try fixture.ledger.highWaterSequence() == 2)
        try fixture.drain(trim: false)
        let again = try fixture.ledger.append(try fixture.store.outboxEvents(after: 0, countMax: 100))
        #expect(again == 2)
        try fixture.drain()
        #expect(try fixture.store.outboxDepth() == 0)
        let report = try UsageReport.build(fixture.ledger, filter: UsageFilter(fromDay: "2026-11-01", toDay: "2026-11-30"), breakdowns: [.key])
        #expect(report.summary == UsageMeasures(requests: 2, errors: 0, inputTokens: 0, outputTokens: 0, costMicros: 3_000))
        #expect(report.breakdowns[0].rows.map(\.value) == ["a1", "a2"])
        #expect(try fixture.reconcile().isConsistent)
    }

    @Test func reopeningTheLedgerKeepsItsHighWaterMark() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 10)
        try fixture.drain(trim: false)
        fixture.ledger.close()
        fixture.ledger = try LedgerDatabase(path: fixture.directory + "/" + LedgerDatabase.fileName)
        #expect(try fixture.ledger.highWaterSequence() == 1)
        try fixture.drain()
        #expect(try UsageReport.build(fixture.ledger, filter: UsageFilter(fromDay: "2026-11-30", toDay: "2026-11-30"), breakdowns: []).summary.requests == 1)
    }

    @Test func dayAndMonthBoundariesSplitUsageAndInvoices() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 700)
        fixture.now = fixture.now.adding(seconds: 1)  // 2026-12-01T00:00:00Z
        try fixture.spend(0, micros: 300)
        try fixture.drain()
        let byDay = try UsageReport.build(fixture.ledger, filter: UsageFilter(tenant: "a", fromDay: "2026-11-29", toDay: "2026-12-02"), breakdowns: [.day])
        #expect(byDay.breakdowns[0].rows.map(\.value) == ["2026-11-30", "2026-12-01"])
        #expect(byDay.breakdowns[0].rows.map(\.measures.costMicros) == [700, 300])
        #expect(try Invoice.build(fixture.ledger, month: "2026-11", markupBasisPoints: 0).totalCostMicros == 700)
        #expect(try Invoice.build(fixture.ledger, month: "2026-12", markupBasisPoints: 0).totalCostMicros == 300)
        #expect(try fixture.reconcile().isConsistent)
    }

    @Test func markupRoundsHalfUpOncePerTenantAndTotalsAddUp() throws {
        #expect(Invoice.markupBasisPoints(percent: "20") == 2_000)
        #expect(Invoice.markupBasisPoints(percent: "12.5") == 1_250)
        #expect(Invoice.markupBasisPoints(percent: "0.25") == 25)
        #expect(Invoice.markupBasisPoints(percent: "-100") == -10_000)
        #expect(Invoice.markupBasisPoints(percent: "12.345") == nil)
        #expect(Invoice.markupBasisPoints(percent: "1e3") == nil)
        #expect(Invoice.billed(costMicros: 5, markupBasisPoints: 1_000) == 6)     // 5.5 rounds up
        #expect(Invoice.billed(costMicros: 15, markupBasisPoints: 1_250) == 17)   // 16.875
        #expect(Invoice.billed(costMicros: 13, markupBasisPoints: 1_250) == 15)   // 14.625
        #expect(Invoice.billed(costMicros: 3, markupBasisPoints: 1_250) == 3)     // 3.375 rounds down

        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        let credit = try fixture.store.credit(tenantId: "b", micros: 1_000, memo: "m", requestId: "c1", now: fixture.now)
        guard case .credited = credit else { Issue.record("\(credit)"); return }
        for micros: Int64 in [5, 10] { try fixture.spend(0, micros: micros) }   // tenant a: 15
        try fixture.spend(2, micros: 13)                                          // tenant b: 13
        try fixture.drain()
        let invoice = try Invoice.build(fixture.ledger, month: "2026-11", markupBasisPoints: 1_250)
        #expect(invoice.lines.map(\.tenant) == ["a", "b"])
        #expect(invoice.lines.map(\.costMicros) == [15, 13])
        #expect(invoice.lines.map(\.billedMicros) == [17, 15])
        #expect(invoice.totalBilledMicros == 32)
        // The sum over tenants equals the sum of that month's settle events, exactly.
        let events = try SQLiteDatabase(path: fixture.directory + "/" + LedgerDatabase.fileName, options: SQLiteOptions(readOnly: true))
        let sum = try events.prepare("SELECT SUM(cost_micros) FROM events WHERE kind = 'settle' AND day LIKE '2026-11-%'").firstRow()
        #expect(sum == [.integer(invoice.totalCostMicros)])
        events.close()
    }

    @Test func tagsBreakDownWithEveryTagAndUntaggedUsageUnderAnEmptyTag() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, tags: ["chat", "batch"], micros: 100)   // tags chat, batch, web (default)
        try fixture.spend(1, micros: 50)                               // no tags at all
        try fixture.drain()
        let report = try UsageReport.build(fixture.ledger, filter: UsageFilter(fromDay: "2026-11-30", toDay: "2026-11-30"), breakdowns: [.tag])
        #expect(report.summary.costMicros == 150)
        #expect(report.breakdowns[0].rows.map(\.value) == ["", "batch", "chat", "web"])
        #expect(report.breakdowns[0].rows.map(\.measures.costMicros) == [50, 100, 100, 100])
        let chatOnly = try UsageReport.build(fixture.ledger, filter: UsageFilter(tag: "chat", fromDay: "2026-11-30", toDay: "2026-11-30"), breakdowns: [])
        #expect(chatOnly.summary.costMicros == 100)
        #expect(try fixture.reconcile().isConsistent)
    }

    @Test func errorsAreCountedPerStatus() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 1, status: .error)
        try fixture.spend(0, micros: 1, status: .cancelled)
        try fixture.spend(0, micros: 1)
        try fixture.drain()
        let summary = try UsageReport.build(fixture.ledger, filter: UsageFilter(fromDay: "2026-11-30", toDay: "2026-11-30"), breakdowns: []).summary
        #expect(summary.requests == 3)
        #expect(summary.errors == 1)
    }

    @Test func reconciliationCountsPendingEventsAndReportsOpenReservationsApart() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 40)
        try fixture.drain()
        try fixture.spend(1, micros: 60)  // still in the outbox
        let open = try fixture.store.authorize(
            secret: LedgerFixture.secrets[0], request: AuthorizeRequest(requestId: "open", model: "m1", estimate: .micros(25)), now: fixture.now
        )
        #expect(open.isAllowed)
        let result = try fixture.reconcile()
        #expect(result.isConsistent, "\(result.differences)")
        #expect(result.eventsPending == 1)
        #expect(result.openReservationsCount == 1)
        #expect(result.openReservedMicrosByTenant == ["a": 25])
    }

    @Test func reconciliationFindsATamperedLedger() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 40)
        try fixture.drain()
        let raw = try SQLiteDatabase(path: fixture.directory + "/" + LedgerDatabase.fileName)
        try raw.execute("UPDATE scope_totals SET micros = micros + 1 WHERE scope = 'key:a1' AND period = 'day'")
        try raw.execute("UPDATE rollups SET cost_micros = cost_micros + 5")
        raw.close()
        let result = try fixture.reconcile()
        #expect(!result.isConsistent)
        #expect(result.differences.map(\.description) == ["key:a1 day 2026-11-30: ledger 41 micros, counters 40 micros (difference 1)"])
        #expect(result.rollupDifferences.count == 2)
    }

    @Test func pruningDropsOldEventsButKeepsRollupsAndReconciliation() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        try fixture.spend(0, micros: 11)
        fixture.now = fixture.now.adding(seconds: 3 * 86_400)
        try fixture.spend(0, micros: 22)
        try fixture.drain()
        // Only settles (and credits, releases, expiries) are events; the first day holds one settle.
        #expect(try fixture.ledger.prune(before: fixture.now.adding(seconds: -86_400)) == 1)
        #expect(try fixture.ledger.prunedBeforeDay() == "2026-12-02")
        let report = try UsageReport.build(fixture.ledger, filter: UsageFilter(fromDay: "2026-11-01", toDay: "2026-12-31"), breakdowns: [])
        #expect(report.summary.costMicros == 33)
        #expect(try fixture.reconcile().isConsistent)
    }

    @Test func badRangesAndMonthsAreRefused() throws {
        let fixture = try LedgerFixture(now: Self.lastSecondOfNovember)
        #expect(throws: LedgerError.self) {
            try UsageReport.build(fixture.ledger, filter: UsageFilter(fromDay: "2026-11-31", toDay: "2026-12-01"), breakdowns: [])
        }
        #expect(throws: LedgerError.self) { try Invoice.build(fixture.ledger, month: "2026-13", markupBasisPoints: 0) }
        #expect(LedgerCalendar.parseMonth("2026-12")! == ("2026-12-01", "2027-01-01"))
    }
}
