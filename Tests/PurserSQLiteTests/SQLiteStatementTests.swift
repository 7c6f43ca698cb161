import CSQLite
import PurserSQLite
import Testing

/// Preparing, binding, stepping and reading rows.
final class SQLiteStatementTests {
    let directory: TemporaryDirectory
    let database: SQLiteDatabase

    init() throws {
        directory = try TemporaryDirectory()
        database = try SQLiteDatabase(path: directory.path("ledger.sqlite"))
        try database.execute("""
            CREATE TABLE items (
                id INTEGER PRIMARY KEY,
                amount INTEGER,
                label TEXT,
                data BLOB
            );
            CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            """)
    }

    deinit {
        database.close()
    }

    private struct ExpectedFailure: Error, Equatable {}

    @Test func integerExtremesAndUTF8TextRoundTrip() throws {
        let written: [(amount: Int64, label: String, data: [UInt8])] = [
            (.min, "", []),
            (.max, "héllo wörld 🧾 日本語", [0, 255, 0]),
            (0, "nul\u{0}inside", [7]),
            (-1, "e\u{301} decomposed", []),
            // 2^53 + 1 has no exact Double: it survives only if nothing passes through floating point.
            (9_007_199_254_740_993, "2^53 + 1", [1]),
        ]
        let insert = try database.prepare("INSERT INTO items (amount, label, data) VALUES (?, ?, ?)")
        #expect(insert.parameterCount == 3)
        for item in written {
            try insert.run([.integer(item.amount), .text(item.label), .blob(item.data)])
            #expect(database.changes == 1)
        }
        try insert.run([nil, nil, nil])
        #expect(database.lastInsertRowID == Int64(written.count + 1))

        var read: [(amount: Int64, label: String, data: SQLiteValue)] = []
        try database.prepare("SELECT amount, label, data FROM items WHERE amount IS NOT NULL ORDER BY id").forEachRow { row in
            #expect(row.count == 3)
            read.append((row.int64(0), row.text(1), row.value(2)))
        }
        try #require(read.count == written.count)
        for (item, readItem) in zip(written, read) {
            #expect(readItem.amount == item.amount)
            // Compared as bytes: String equality would equate decomposed and precomposed forms.
            #expect(Array(readItem.label.utf8) == Array(item.label.utf8))
            #expect(readItem.data == .blob(item.data))
        }

        // Empty text and blobs stay empty rather than turning into NULL.
        #expect(try database.scalar("SELECT typeof(label) || ',' || typeof(data) FROM items WHERE id = 1") == .text("text,blob"))
        #expect(try database.scalar("SELECT id FROM items WHERE amount = ?", [.integer(.min)]) == .integer(1))
        #expect(try database.scalar("SELECT id FROM items WHERE amount = ?", [.integer(.max)]) == .integer(2))

        try database.prepare("SELECT amount, label, data FROM items WHERE amount IS NULL").forEachRow { row in
            #expect(row.int64(0) == 0)
            #expect(row.optionalInt64(0) == nil)
            #expect(row.text(1) == "")
            #expect(row.optionalText(1) == nil)
            #expect(row.value(2) == .null)
        }
    }

    /// Text and blobs are bound from one buffer owned by the statement (SQLITE_STATIC), which
    /// grows when values outgrow it: every value must still be read back exactly, whether it
    /// grew the buffer, fit in a larger one, or sat beside empty values.
    @Test func boundValuesSurviveTheirBufferGrowingAndShrinking() throws {
        let insert = try database.prepare("INSERT INTO items (amount, label, data) VALUES (?, ?, ?)")
        var written: [(label: String, data: [UInt8])] = []
        for (step, size) in [1, 0, 7, 4_096, 3, 100_000, 0, 65_537, 2].enumerated() {
            let label = String(repeating: Character(UnicodeScalar(UInt8(97 + step % 26))), count: size)
            let data = (0..<(size / 2)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ step) }
            try insert.run([.integer(Int64(step)), .text(label), .blob(data)])
            written.append((label, data))
        }
        // An explicit bind that grows the buffer, then the execution that uses it.
        let big = String(repeating: "z", count: 300_000)
        try insert.bind([.integer(99), .text(big), .blob([1, 2, 3])])
        try insert.run()
        written.append((big, [1, 2, 3]))

        var read: [(label: String, data: SQLiteValue)] = []
        try database.prepare("SELECT label, data FROM items ORDER BY id").forEachRow { row in
            read.append((row.text(0), row.value(1)))
        }
        try #require(read.count == written.count)
        for (item, readItem) in zip(written, read) {
            #expect(readItem.label == item.label)
            #expect(readItem.data == .blob(item.data))
        }
        // A lookup bound after the buffer grew finds what was written with the small one.
        #expect(try database.scalar("SELECT amount FROM items WHERE label = ?", ["a"]) == .integer(0))
    }

    @Test func columnNamesAndValuesOfEveryKind() throws {
        let row = try #require(try database.prepare("SELECT 42 AS answer, 'text' AS word, x'00ff' AS bytes, NULL AS absent").firstRow())
        #expect(row == [.integer(42), .text("text"), .blob([0, 0xFF]), .null])
        var names: [String] = []
        try database.prepare("SELECT 42 AS answer, 'text' AS word").forEachRow { row in
            names = (0..<row.count).map { row.name($0) }
        }
        #expect(names == ["answer", "word"])
    }

    @Test func realColumnIsReportedAsItsText() throws {
        let row = try #require(try database.prepare("SELECT 1.5, CAST(3 AS REAL), typeof(1.5)").firstRow())
        #expect(row == [.text("1.5"), .text("3.0"), .text("real")])
    }

    @Test func constraintViolationIsTypedAndTheStatementStaysReusable() throws {
        let insert = try database.prepare("INSERT INTO accounts (name) VALUES (?)")
        try insert.run(["alpha"])
        let error = try #require(throws: SQLiteError.self) {
            try insert.run(["alpha"])
        }
        #expect(error.isConstraint)
        // Extended codes are C macros Swift does not import: SQLITE_CONSTRAINT_UNIQUE.
        #expect(error.code == SQLITE_CONSTRAINT | (8 << 8))
        #expect(error.message == "UNIQUE constraint failed: accounts.name")
        #expect(error.operation == "step: INSERT INTO accounts (name) VALUES (?)")
        #expect(!error.isBusy && !error.isFull && !error.isReadOnly && !error.isIOError && !error.isCantOpen)

        try insert.run(["beta"])
        let notNullError = try #require(throws: SQLiteError.self) { try insert.run([nil]) }
        #expect(notNullError.code == SQLITE_CONSTRAINT | (5 << 8)) // SQLITE_CONSTRAINT_NOTNULL
        try insert.run(["gamma"])
        #expect(try database.scalar("SELECT group_concat(name, ',') FROM (SELECT name FROM accounts ORDER BY id)") == .text("alpha,beta,gamma"))
    }

    @Test func cachedStatementIsReusedAndWorksAfterAnError() throws {
        let sql = "INSERT INTO accounts (name) VALUES (?)"
        let first = try database.cachedStatement(sql)
        let second = try database.cachedStatement(sql)
        #expect(first === second)
        #expect(try database.cachedStatement("SELECT COUNT(*) FROM accounts") !== first)
        #expect(try database.prepare(sql) !== first)

        try first.run(["alpha"])
        #expect(throws: SQLiteError.self) { try second.run(["alpha"]) }
        let third = try database.cachedStatement(sql)
        #expect(third === first)
        try third.run(["beta"])
        #expect(try database.scalar("SELECT COUNT(*) FROM accounts") == .integer(2))

        // Handing the statement out again drops values bound by its previous user.
        try third.bind(["stale"])
        let fourth = try database.cachedStatement(sql)
        let error = try #require(throws: SQLiteError.self) { try fourth.run() }
        #expect(error.code == SQLITE_RANGE)
        #expect(try database.scalar("SELECT COUNT(*) FROM accounts WHERE name = 'stale'") == .integer(0))
    }

    /// A statement asked for by literal is the one asked for by the same text, reused and reset
    /// like it, and closed with the database.
    @Test func cachedStatementByLiteralIsTheCachedStatementOfItsText() throws {
        func insert() throws -> SQLiteStatement {
            try database.cachedStatement(literal: "INSERT INTO accounts (name) VALUES (?)")
        }
        let first = try insert()
        #expect(try insert() === first)
        #expect(try database.cachedStatement("INSERT INTO accounts (name) VALUES (?)") === first)
        #expect(try database.cachedStatement(literal: "SELECT COUNT(*) FROM accounts") !== first)
        try first.run(["alpha"])
        try first.bind(["stale"])
        let again = try insert()
        #expect(throws: SQLiteError.self) { try again.run() }
        try again.run(["beta"])
        #expect(try database.scalar("SELECT group_concat(name, ',') FROM (SELECT name FROM accounts ORDER BY id)") == .text("alpha,beta"))
        database.close()
        #expect(throws: SQLiteError.closed) { try insert() }
    }

    @Test func explicitBindIsUsedOnceByTheNextExecution() throws {
        let insert = try database.prepare("INSERT INTO accounts (name) VALUES (?)")
        try insert.bind(["bound"])
        try insert.run()
        #expect(throws: SQLiteError.self) { try insert.run() }
        let select = try database.prepare("SELECT id FROM accounts WHERE name = ?")
        try select.bind(["bound"])
        #expect(try select.firstRow() == [.integer(1)])
        #expect(try select.firstRow(["missing"]) == nil)
    }

    @Test func bindCountMustMatchTheParameters() throws {
        let select = try database.prepare("SELECT ?, ?")
        let error = try #require(throws: SQLiteError.self) { try select.firstRow([1]) }
        #expect(error.code == SQLITE_RANGE)
        #expect(error.message == "expected 2 values, got 1")
        #expect(error.operation == "bind: SELECT ?, ?")
        #expect(throws: SQLiteError.self) { try select.bind([1, 2, 3]) }
        #expect(try select.firstRow([1, "two"]) == [.integer(1), .text("two")])
    }

    @Test func runRejectsAStatementThatReturnsRows() throws {
        let error = try #require(throws: SQLiteError.self) {
            try database.prepare("SELECT 1").run()
        }
        #expect(error.code == SQLITE_MISUSE)
        #expect(error.operation == "run: SELECT 1")
    }

    @Test func prepareReportsSyntaxErrorsAndRejectsSeveralStatements() throws {
        let syntaxError = try #require(throws: SQLiteError.self) { try database.prepare("SELEC 1") }
        #expect(syntaxError.code == SQLITE_ERROR)
        #expect(syntaxError.message.contains("syntax error"))
        #expect(syntaxError.operation == "prepare: SELEC 1")

        let severalError = try #require(throws: SQLiteError.self) {
            try database.prepare("DELETE FROM accounts; DELETE FROM items")
        }
        #expect(severalError.code == SQLITE_MISUSE)
        #expect(throws: SQLiteError.self) { try database.prepare("") }
        #expect(throws: SQLiteError.self) { try database.prepare("-- nothing") }

        // Trailing whitespace, semicolons and comments are not a second statement.
        #expect(try database.prepare("SELECT 1; ; -- done\n /* really */ ").firstRow() == [.integer(1)])
    }

    @Test func forEachRowResetsEvenWhenTheBodyThrows() throws {
        try database.execute("INSERT INTO items (amount) VALUES (1), (2), (3)")
        let select = try database.cachedStatement("SELECT amount FROM items WHERE amount >= ? ORDER BY amount")
        var seen: [Int64] = []
        #expect(throws: ExpectedFailure()) {
            try select.forEachRow([1]) { row in
                seen.append(row.int64(0))
                if seen.count == 2 { throw ExpectedFailure() }
            }
        }
        #expect(seen == [1, 2])

        seen = []
        try select.forEachRow([1]) { row in seen.append(row.int64(0)) }
        #expect(seen == [1, 2, 3])
        // A reset statement holds no read transaction open, so a write can follow at once.
        try database.transaction { try database.execute("DELETE FROM items") }
        #expect(try select.firstRow([1]) == nil)
    }

    @Test func groupByOverManyRowsSumsExactly() throws {
        var expected: [String: Int64] = [:]
        try database.transaction {
            let insert = try database.cachedStatement("INSERT INTO items (amount, label) VALUES (?, ?)")
            for index in 0..<3_000 {
                let label = "account-\(index % 5)"
                let amount = Int64(index) * 1_234_567 - 1_000_000_000
                expected[label, default: 0] += amount
                try insert.run([.integer(amount), .text(label)])
            }
        }
        var sums: [String: Int64] = [:]
        try database.prepare("SELECT label, SUM(amount) FROM items GROUP BY label").forEachRow { row in
            sums[row.text(0)] = row.int64(1)
        }
        #expect(sums == expected)
    }
}
