import CSQLite
import Foundation
import PurserSQLite
import Testing

/// Opening, pragmas, connections sharing a file, closing and failure modes.
final class SQLiteDatabaseTests {
    let directory: TemporaryDirectory
    let path: String

    init() throws {
        directory = try TemporaryDirectory()
        path = directory.path("ledger.sqlite")
    }

    @Test func walModeIsReallyOn() throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("CREATE TABLE events (id INTEGER PRIMARY KEY); INSERT INTO events DEFAULT VALUES;")
        #expect(try database.scalar("PRAGMA journal_mode") == .text("wal"))
        // Committed pages sit in the log until a checkpoint.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func walModeIsLeftAloneWhenNotRequested() throws {
        let database = try SQLiteDatabase(path: path, options: .init(journalModeWAL: false))
        defer { database.close() }
        #expect(try database.scalar("PRAGMA journal_mode") == .text("delete"))
    }

    @Test func cacheSizeIsSet() throws {
        let database = try SQLiteDatabase(path: path, options: .init(cacheSizeKibibytes: 1_234))
        defer { database.close() }
        #expect(try database.scalar("PRAGMA cache_size") == .integer(-1_234))
        let plain = try SQLiteDatabase(path: path)
        defer { plain.close() }
        #expect(try plain.scalar("PRAGMA cache_size") == .integer(-2_000))
    }

    @Test(arguments: SQLiteOptions.Synchronous.allCases)
    func synchronousPragmaIsSet(synchronous: SQLiteOptions.Synchronous) throws {
        let database = try SQLiteDatabase(path: path, options: .init(synchronous: synchronous))
        defer { database.close() }
        let expected: Int64 = switch synchronous {
        case .off: 0
        case .normal: 1
        case .full: 2
        }
        #expect(try database.scalar("PRAGMA synchronous") == .integer(expected))
    }

    @Test func readOnlyConnectionReadsWhileAnotherWritesAndCannotWrite() throws {
        let writer = try SQLiteDatabase(path: path)
        defer { writer.close() }
        try writer.execute("CREATE TABLE events (amount INTEGER NOT NULL); INSERT INTO events VALUES (10);")
        let reader = try SQLiteDatabase(path: path, options: .init(readOnly: true))
        defer { reader.close() }
        // WAL is a property of the file, so the read-only connection uses it too.
        #expect(try reader.scalar("PRAGMA journal_mode") == .text("wal"))

        try writer.transaction {
            try writer.prepare("INSERT INTO events VALUES (?)").run([20])
            // The writer holds the write lock; in WAL the reader still sees the last commit.
            #expect(try reader.scalar("SELECT SUM(amount) FROM events") == .integer(10))
        }
        #expect(try reader.scalar("SELECT SUM(amount) FROM events") == .integer(30))

        let insertError = try #require(throws: SQLiteError.self) {
            try reader.execute("INSERT INTO events VALUES (40)")
        }
        #expect(insertError.isReadOnly)
        #expect(insertError.operation == "execute: INSERT INTO events VALUES (40)")
        let statementError = try #require(throws: SQLiteError.self) {
            try reader.prepare("DELETE FROM events").run()
        }
        #expect(statementError.isReadOnly)
        #expect(try writer.scalar("SELECT SUM(amount) FROM events") == .integer(30))
    }

    @Test func readOnlyOpenOfMissingFileIsCantOpen() throws {
        let error = try #require(throws: SQLiteError.self) {
            _ = try SQLiteDatabase(path: path, options: .init(readOnly: true))
        }
        #expect(error.isCantOpen)
        #expect(error.operation == "open \(path)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func openInMissingDirectoryIsCantOpen() throws {
        let missingPath = directory.path("missing/ledger.sqlite")
        let error = try #require(throws: SQLiteError.self) {
            _ = try SQLiteDatabase(path: missingPath)
        }
        #expect(error.isCantOpen)
        #expect(!error.message.isEmpty)
    }

    @Test func writerHeldElsewhereIsBusyAfterTheTimeout() throws {
        let holder = try SQLiteDatabase(path: path)
        defer { holder.close() }
        try holder.execute("CREATE TABLE events (amount INTEGER)")
        try holder.execute("BEGIN IMMEDIATE")
        let waiter = try SQLiteDatabase(path: path, options: .init(busyTimeoutMilliseconds: 50))
        defer { waiter.close() }

        let start = ContinuousClock.now
        let error = try #require(throws: SQLiteError.self) {
            try waiter.transaction {}
        }
        let elapsed = ContinuousClock.now - start
        #expect(error.isBusy)
        #expect(error.code == SQLITE_BUSY)
        #expect(error.operation == "execute: BEGIN IMMEDIATE")
        // Waited for the configured 50 ms, not the 5 s default.
        #expect(elapsed >= .milliseconds(40))
        #expect(elapsed < .seconds(1))
        #expect(!waiter.isInTransaction)

        try holder.execute("COMMIT")
        try waiter.transaction {
            try waiter.execute("INSERT INTO events VALUES (1)")
        }
        #expect(try holder.scalar("SELECT COUNT(*) FROM events") == .integer(1))
    }

    @Test func closedDatabaseThrowsTypedErrors() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE events (amount INTEGER)")
        let statement = try database.prepare("INSERT INTO events VALUES (?)")
        let cached = try database.cachedStatement("SELECT amount FROM events")
        try statement.run([1])
        database.close()
        database.close()

        #expect(SQLiteError.closed.code == SQLITE_MISUSE)
        #expect(SQLiteError.closed.operation == "closed")
        #expect(throws: SQLiteError.closed) { try database.execute("SELECT 1") }
        #expect(throws: SQLiteError.closed) { try database.prepare("SELECT 1") }
        #expect(throws: SQLiteError.closed) { try database.cachedStatement("SELECT amount FROM events") }
        #expect(throws: SQLiteError.closed) { try database.transaction {} }
        #expect(throws: SQLiteError.closed) { try statement.run([2]) }
        #expect(throws: SQLiteError.closed) { try statement.bind([2]) }
        #expect(throws: SQLiteError.closed) { try cached.firstRow() }
        #expect(throws: SQLiteError.closed) { try cached.forEachRow { _ in Issue.record("row after close") } }
        #expect(database.changes == 0)
        #expect(database.lastInsertRowID == 0)
        #expect(!database.isInTransaction)
    }

    @Test func closingInsideARowBodyEndsTheIterationWithATypedError() throws {
        let database = try SQLiteDatabase(path: path)
        try database.execute("CREATE TABLE events (amount INTEGER); INSERT INTO events VALUES (1), (2), (3);")
        var seen: [Int64] = []
        #expect(throws: SQLiteError.closed) {
            try database.cachedStatement("SELECT amount FROM events ORDER BY amount").forEachRow { row in
                seen.append(row.int64(0))
                database.close()
            }
        }
        #expect(seen == [1])
    }

    @Test func diskFullIsReportedAndTheDatabaseStaysConsistent() throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        let insert = try database.cachedStatement("INSERT INTO events (payload) VALUES (?)")
        for _ in 0..<5 {
            try insert.run([.blob([1, 2, 3])])
        }
        guard case .integer(let pageCount)? = try database.scalar("PRAGMA page_count") else {
            Issue.record("PRAGMA page_count returned no integer")
            return
        }
        // A per-connection cap on the file size: the same SQLITE_FULL path as a full disk.
        try database.execute("PRAGMA max_page_count = \(pageCount + 8)")

        let payload = [UInt8](repeating: 0xAB, count: 3_000)
        var insertedCount = 0
        let error = try #require(throws: SQLiteError.self) {
            try database.transaction {
                for _ in 0..<1_000 {
                    try insert.run([.blob(payload)])
                    insertedCount += 1
                }
            }
        }
        #expect(error.isFull)
        #expect(error.code == SQLITE_FULL)
        #expect(error.operation == "step: INSERT INTO events (payload) VALUES (?)")
        #expect(insertedCount > 0)
        #expect(insertedCount < 1_000)

        // The partial transaction was rolled back and the file is sound.
        #expect(!database.isInTransaction)
        #expect(try database.scalar("SELECT COUNT(*) FROM events") == .integer(5))
        #expect(try database.scalar("PRAGMA integrity_check") == .text("ok"))

        // Still usable: small writes fit, and lifting the cap lets the big ones through.
        try insert.run([.blob([4])])
        try database.execute("PRAGMA max_page_count = 1073741823")
        try database.transaction {
            try insert.run([.blob(payload)])
        }
        #expect(try database.scalar("SELECT COUNT(*) FROM events") == .integer(7))
    }

    @Test func executeRunsScriptsAndReportsTheFailingSQL() throws {
        let database = try SQLiteDatabase(path: path)
        defer { database.close() }
        try database.execute("""
            CREATE TABLE events (amount INTEGER);
            -- a comment between statements
            INSERT INTO events VALUES (1);
            INSERT INTO events VALUES (2);
            """)
        #expect(try database.scalar("SELECT SUM(amount) FROM events") == .integer(3))
        #expect(database.changes == 1)

        let error = try #require(throws: SQLiteError.self) {
            try database.execute("INSERT INTO missing VALUES (1)")
        }
        #expect(error.code == SQLITE_ERROR)
        #expect(error.message == "no such table: missing")
        #expect(error.operation == "execute: INSERT INTO missing VALUES (1)")
        #expect(error.description.contains("no such table: missing"))
    }
}
