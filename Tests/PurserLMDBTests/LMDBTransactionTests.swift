import Foundation
import PurserLMDB
import Testing

/// One environment per test, in its own temporary directory.
final class LMDBTransactionTests {
    let directory: TemporaryDirectory
    let environment: LMDBEnvironment
    let database: LMDBDatabase

    init() throws {
        directory = try TemporaryDirectory()
        environment = try LMDBEnvironment(path: directory.path("environment"))
        database = try environment.openDatabase(named: "items")
    }

    deinit {
        environment.close()
    }

    private struct ExpectedFailure: Error, Equatable {}

    @Test func putGetDeleteRoundTrip() throws {
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "alpha".bytes, value: [1, 2, 3])
            try transaction.put(database, key: "empty".bytes, value: [])
            // Visible to the writing transaction before commit.
            #expect(try transaction.get(database, key: "alpha".bytes) == [1, 2, 3])
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "alpha".bytes) == [1, 2, 3])
            #expect(try transaction.get(database, key: "empty".bytes) == [])
            #expect(try transaction.get(database, key: "missing".bytes) == nil)
        }
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "alpha".bytes, value: [9])
            #expect(try transaction.delete(database, key: "empty".bytes) == true)
            #expect(try transaction.delete(database, key: "missing".bytes) == false)
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "alpha".bytes) == [9])
            #expect(try transaction.get(database, key: "empty".bytes) == nil)
        }
    }

    @Test func withValueReadsInPlace() throws {
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "key".bytes, value: [7, 8, 9, 10])
        }
        let sum = try environment.read { (transaction) throws in
            try transaction.withValue(database, key: "key".bytes) { value in
                value.map { $0.reduce(0) { $0 + Int($1) } }
            }
        }
        #expect(sum == 34)
        let missing = try environment.read { (transaction) throws in
            try transaction.withValue(database, key: "absent".bytes) { value in value == nil }
        }
        #expect(missing == true)
    }

    @Test func throwingBodyAbortsTheWrite() throws {
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "kept".bytes, value: [1])
        }
        #expect(throws: ExpectedFailure()) {
            try self.environment.write { (transaction) throws in
                try transaction.put(self.database, key: "kept".bytes, value: [2])
                try transaction.put(self.database, key: "discarded".bytes, value: [3])
                throw ExpectedFailure()
            }
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "kept".bytes) == [1])
            #expect(try transaction.get(database, key: "discarded".bytes) == nil)
            #expect(try transaction.count(database) == 1)
        }
    }

    @Test func forEachVisitsKeysInOrderFromStart() throws {
        try environment.write { (transaction) throws in
            // Inserted out of order; LMDB sorts keys bytewise.
            for key in ["d", "b", "a", "e", "c"] {
                try transaction.put(database, key: key.bytes, value: (key + key).bytes)
            }
        }
        try environment.read { (transaction) throws in
            var all: [String] = []
            try transaction.forEach(database) { key, value in
                #expect(value == key + key)
                all.append(String(decoding: key, as: UTF8.self))
                return true
            }
            #expect(all == ["a", "b", "c", "d", "e"])

            var fromBB: [String] = []
            try transaction.forEach(database, from: "bb".bytes) { key, _ in
                fromBB.append(String(decoding: key, as: UTF8.self))
                return true
            }
            #expect(fromBB == ["c", "d", "e"])

            var stopped: [String] = []
            try transaction.forEach(database, from: "b".bytes) { key, _ in
                stopped.append(String(decoding: key, as: UTF8.self))
                return stopped.count < 2
            }
            #expect(stopped == ["b", "c"])

            var pastEnd = 0
            try transaction.forEach(database, from: "z".bytes) { _, _ in
                pastEnd += 1
                return true
            }
            #expect(pastEnd == 0)

            let first = try transaction.first(database)
            #expect(first?.key == "a".bytes)
            #expect(first?.value == "aa".bytes)
            #expect(try transaction.first(database, from: "cc".bytes)?.key == "d".bytes)
            #expect(try transaction.first(database, from: "f".bytes) == nil)
        }
    }

    @Test func forEachMayDeleteTheVisitedEntry() throws {
        try environment.write { (transaction) throws in
            for index in 0..<200 {
                try transaction.put(database, key: [UInt8(index)], value: [UInt8(index % 2)])
            }
        }
        var visitedCount = 0
        try environment.write { (transaction) throws in
            try transaction.forEach(database) { key, value in
                visitedCount += 1
                if value == [1] { try transaction.delete(database, key: key) }
                return true
            }
        }
        #expect(visitedCount == 200)
        let remaining = try environment.read { (transaction) throws in
            var keys: [UInt8] = []
            try transaction.forEach(database) { key, _ in
                keys.append(key[0])
                return true
            }
            return keys
        }
        #expect(remaining == Array(stride(from: 0, to: 200, by: 2)).map(UInt8.init))
    }

    @Test func putIfAbsentKeepsTheExistingValue() throws {
        try environment.write { (transaction) throws in
            #expect(try transaction.putIfAbsent(database, key: "key".bytes, value: [1]) == true)
            #expect(try transaction.putIfAbsent(database, key: "key".bytes, value: [2]) == false)
            #expect(try transaction.get(database, key: "key".bytes) == [1])
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "key".bytes) == [1])
        }
    }

    @Test func countAndRemoveAll() throws {
        let other = try environment.openDatabase(named: "other")
        try environment.write { (transaction) throws in
            for index in 0..<25 {
                try transaction.put(database, key: [1, UInt8(index)], value: [UInt8(index)])
            }
            try transaction.put(other, key: [1], value: [1])
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.count(database) == 25)
        }
        try environment.write { (transaction) throws in
            try transaction.removeAll(database)
            #expect(try transaction.count(database) == 0)
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.count(database) == 0)
            #expect(try transaction.first(database) == nil)
            // Only the target database was emptied, and it can still be written.
            #expect(try transaction.count(other) == 1)
        }
        try environment.write { (transaction) throws in
            try transaction.put(database, key: [5], value: [5])
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: [5]) == [5])
        }
    }

    @Test func readTransactionKeepsItsSnapshot() throws {
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "key".bytes, value: "old".bytes)
        }
        try environment.read { (snapshot) throws in
            #expect(try snapshot.get(database, key: "key".bytes) == "old".bytes)
            // MDB_NOTLS lets this thread begin a write while it holds a read transaction.
            try environment.write { (transaction) throws in
                try transaction.put(database, key: "key".bytes, value: "new".bytes)
                try transaction.put(database, key: "added".bytes, value: [1])
            }
            #expect(try snapshot.get(database, key: "key".bytes) == "old".bytes)
            #expect(try snapshot.get(database, key: "added".bytes) == nil)
            #expect(try snapshot.count(database) == 1)
        }
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "key".bytes) == "new".bytes)
        }
    }

    @Test func emptyAndOversizedKeysThrowTypedError() throws {
        let keySizeMaxBytes = environment.keySizeMaxBytes
        #expect(keySizeMaxBytes == 511)
        let expected = LMDBError(code: EINVAL, operation: "key size")
        try environment.write { (transaction) throws in
            try transaction.put(database, key: [UInt8](repeating: 1, count: keySizeMaxBytes), value: [1])
            #expect(throws: expected) {
                try transaction.put(self.database, key: [UInt8](repeating: 2, count: keySizeMaxBytes + 1), value: [1])
            }
            #expect(throws: expected) { try transaction.put(self.database, key: [], value: [1]) }
            #expect(throws: expected) { try transaction.get(self.database, key: []) }
            #expect(throws: expected) { try transaction.delete(self.database, key: [UInt8](repeating: 0, count: 4096)) }
            #expect(throws: expected) { try transaction.first(self.database, from: []) }
        }
        // The transaction committed despite the rejected keys: they never reached LMDB.
        try environment.read { (transaction) throws in
            #expect(try transaction.count(database) == 1)
        }
    }

    @Test func integerKeysOrderNumerically() throws {
        let numbers = try environment.openDatabase(named: "numbers", flags: .integerKey)
        #expect(numbers.flags == .integerKey)
        func key(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }
        try environment.write { (transaction) throws in
            for value: UInt64 in [300, 2, 70_000, 1] {
                try transaction.put(numbers, key: key(value), value: [])
            }
            #expect(throws: LMDBError(code: EINVAL, operation: "key size")) {
                try transaction.put(numbers, key: [1, 2, 3], value: [])
            }
        }
        let order = try environment.read { (transaction) throws in
            var values: [UInt64] = []
            try transaction.forEach(numbers) { key, _ in
                values.append(key.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
                return true
            }
            return values
        }
        #expect(order == [1, 2, 300, 70_000])
    }
}
