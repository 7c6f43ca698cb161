import Foundation
import PurserSQLite
import Testing

/// `SQLiteDatabase.transaction`: commit, rollback, bulk inserts and nesting.
final class SQLiteTransactionTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.path("ledger.sqlite")
    }

    private struct ExpectedFailure: Error, Equatable {}

    @Test func commitPersistsAcrossCloseAndReopen() throws {
        do {
            let database = try SQLiteDatabase(path: path)
            try database.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, amount_micros INTEGER NOT NULL)")
            let rowID = try database.transaction {
                try database.cachedStatement("INSERT INTO events (amount_micros) VALUES (?)").run([1_500_000])
                #expect(database.isInTransaction)
                return database.lastInsertRowID
            }
            #expect(rowID == 1)
            #expect(!database.isInTransaction)
            database.close()
        }
        let reopened = try SQLiteDatabase(path: path)
        defer { reopened.close() }
        #expect(try reopened.scalar("SELECT amount_micros FROM events WHERE id = 1") == .integer(1_500_000))
    }

    @Test func throwingBodyRollsBackAndRethrows() throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("CREATE TABLE events (amount_micros INTEGER NOT NULL)")
        #expect(throws: ExpectedFailure()) {
            try database.transaction {
                try database.execute("INSERT INTO events VALUES (1), (2)")
                #expect(try database.scalar("SELECT COUNT(*) FROM events") == .integer(2))
                throw ExpectedFailure()
            }
        }
        #expect(!database.isInTransaction)
        #expect(try database.scalar("SELECT COUNT(*) FROM events") == .integer(0))

        // The connection is clean: the next transaction commits normally.
        try database.transaction { try database.execute("INSERT INTO events VALUES (3)") }
        database.close()
        let reopened = try SQLiteDatabase(path: path)
        defer { reopened.close() }
        #expect(try reopened.scalar("SELECT group_concat(amount_micros) FROM events") == .text("3"))
    }

    @Test func failingStatementInBodyRollsBackEverything() throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("CREATE TABLE events (id INTEGER PRIMARY KEY)")
        let error = try #require(throws: SQLiteError.self) {
            try database.transaction {
                try database.execute("INSERT INTO events VALUES (1)")
                try database.execute("INSERT INTO events VALUES (1)")
            }
        }
        #expect(error.isConstraint)
        #expect(try database.scalar("SELECT COUNT(*) FROM events") == .integer(0))
    }

    @Test func tenThousandInsertsInOneTransactionRoundTripExactly() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE events (id INTEGER PRIMARY KEY, account TEXT NOT NULL, amount_micros INTEGER NOT NULL)
            """)
        var expectedSum: Int64 = 0
        var expectedByAccount: [String: Int64] = [:]
        try database.transaction {
            let insert = try database.cachedStatement("INSERT INTO events (account, amount_micros) VALUES (?, ?)")
            for index in 0..<10_000 {
                // Odd, large and sometimes negative amounts, so a lost or doubled row shows.
                let amount = Int64(index) * 1_000_003 + (index.isMultiple(of: 3) ? -987_654_321 : 7)
                let account = "account-\(index % 7)"
                expectedSum += amount
                expectedByAccount[account, default: 0] += amount
                try insert.run([.text(account), .integer(amount)])
            }
        }
        database.close()

        let reopened = try SQLiteDatabase(path: path)
        defer { reopened.close() }
        #expect(try reopened.scalar("SELECT COUNT(*) FROM events") == .integer(10_000))
        #expect(try reopened.scalar("SELECT SUM(amount_micros) FROM events") == .integer(expectedSum))
        var readSum: Int64 = 0
        var readCount = 0
        try reopened.prepare("SELECT amount_micros FROM events ORDER BY id").forEachRow { row in
            readSum += row.int64(0)
            readCount += 1
        }
        #expect(readCount == 10_000)
        #expect(readSum == expectedSum)
        var byAccount: [String: Int64] = [:]
        try reopened.prepare("SELECT account, SUM(amount_micros) FROM events GROUP BY account").forEachRow { row in
            byAccount[row.text(0)] = row.int64(1)
        }
        #expect(byAccount == expectedByAccount)
    }

    @Test func nestedTransactionIsAPreconditionFailure() async {
        await #expect(processExitsWith: .failure) {
            // Setup failures exit successfully, which fails this test instead of passing it.
            guard let directory = try? TemporaryDirectory(),
                  let database = try? SQLiteDatabase(path: directory.path("nested.sqlite"))
            else { exit(0) }
            // Without the precondition the inner BEGIN fails, the error is swallowed and
            // the process exits normally.
            try? database.transaction {
                _ = try? database.transaction {}
            }
            exit(0)
        }
    }
}
