import PurserLMDB
import Testing

@Suite struct LMDBWriteLogTests {
    @Test func recordsExactlyTheChangesThatTookEffectInOrder() throws {
        let directory = try TemporaryDirectory()
        let environment = try LMDBEnvironment(path: directory.path("env"))
        let first = try environment.openDatabase(named: "first")
        let second = try environment.openDatabase(named: "second")
        try environment.write { transaction in try transaction.put(first, key: "kept".bytes, value: "old".bytes) }
        let before = try environment.info.lastTransactionID

        let log = LMDBWriteLog(headerBytesCount: 5)
        var shownId: UInt64 = 0
        try environment.write(log: log) { transaction in
            shownId = transaction.id
            try transaction.put(first, key: "a".bytes, value: "1".bytes)
            #expect(try transaction.putIfAbsent(first, key: "kept".bytes, value: "new".bytes) == false)  // no change
            #expect(try transaction.putIfAbsent(second, key: "b".bytes, value: [0, 255]) == true)
            #expect(try transaction.delete(first, key: "absent".bytes) == false)  // no change
            #expect(try transaction.delete(first, key: "kept".bytes) == true)
            try transaction.removeAll(second)
        }
        #expect(shownId == UInt64(before + 1))
        #expect(try environment.info.lastTransactionID == before + 1)
        #expect(log.bytes.prefix(5).allSatisfy { $0 == 0 })
        let records = try log.bytes.dropFirst(5).withUnsafeBytes { try LMDBWriteLog.records(in: $0) }
        #expect(records == [
            .init(kind: .put, databaseName: "first", key: "a".bytes, value: "1".bytes),
            .init(kind: .put, databaseName: "second", key: "b".bytes, value: [0, 255]),
            .init(kind: .delete, databaseName: "first", key: "kept".bytes, value: []),
            .init(kind: .removeAll, databaseName: "second", key: [], value: []),
        ])

        log.removeAllRecords()
        #expect(log.isEmpty)
        // A transaction that changes nothing records nothing and commits without a new id.
        let deleted = try environment.write(log: log) { transaction in
            try transaction.delete(first, key: "absent".bytes)
        }
        #expect(deleted == false)
        #expect(log.isEmpty)
        #expect(try environment.info.lastTransactionID == before + 1)
    }

    @Test func aTransactionLargerThanTheLimitOverflowsInsteadOfGrowingTheLog() throws {
        let directory = try TemporaryDirectory()
        let environment = try LMDBEnvironment(path: directory.path("env"))
        let database = try environment.openDatabase(named: "d")
        let log = LMDBWriteLog(headerBytesCount: 8, recordBytesMax: 100)
        try environment.write(log: log) { transaction in
            try transaction.put(database, key: "a".bytes, value: [UInt8](repeating: 1, count: 50))
            #expect(!log.isOverflowed)
            try transaction.put(database, key: "b".bytes, value: [UInt8](repeating: 2, count: 50))
            #expect(log.isOverflowed)
            try transaction.delete(database, key: "a".bytes)
        }
        #expect(log.isOverflowed && !log.isEmpty && log.recordBytesCount == 0)
        log.removeAllRecords()
        #expect(!log.isOverflowed && log.isEmpty)
    }

    @Test func truncatedRecordsAreAnErrorNotAGuess() throws {
        let bytes: [UInt8] = [1, 1, UInt8(ascii: "x"), 0, 1, 7, 0, 0]  // a put whose value length is cut
        #expect(throws: LMDBWriteLog.DecodingError.truncated(offset: 6)) {
            try bytes.withUnsafeBytes { try LMDBWriteLog.records(in: $0) }
        }
        #expect(throws: LMDBWriteLog.DecodingError.unknownKind(9, offset: 0)) {
            try [UInt8]([9]).withUnsafeBytes { try LMDBWriteLog.records(in: $0) }
        }
    }
}
