import Foundation
import PurserLMDB
import Testing

final class LMDBEnvironmentTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    @Test func openCreatesDirectoryWithOwnerOnlyMode() throws {
        let path = directory.path("nested/environment")
        let environment = try LMDBEnvironment(path: path)
        defer { environment.close() }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(FileManager.default.fileExists(atPath: path + "/data.mdb"))
    }

    @Test func openingAFileAsDirectoryFails() throws {
        let path = directory.path("file")
        #expect(FileManager.default.createFile(atPath: path, contents: Data([1])))
        #expect(throws: LMDBError(code: ENOTDIR, operation: "mkdir")) {
            _ = try LMDBEnvironment(path: path)
        }
    }

    @Test func commitPersistsAcrossReopen() throws {
        let path = directory.path("environment")
        do {
            let environment = try LMDBEnvironment(path: path)
            let database = try environment.openDatabase(named: "items")
            try environment.write { (transaction) throws in
                try transaction.put(database, key: "key".bytes, value: "value".bytes)
            }
            try environment.sync(force: true)
            environment.close()
        }
        let reopened = try LMDBEnvironment(path: path)
        defer { reopened.close() }
        let database = try reopened.openDatabase(named: "items")
        let value = try reopened.read { (transaction) throws in
            try transaction.get(database, key: "key".bytes)
        }
        #expect(value == "value".bytes)
    }

    @Test func infoAndPageSizeReflectTheEnvironment() throws {
        let environment = try LMDBEnvironment(
            path: directory.path("environment"),
            options: .init(mapSizeBytes: 4 << 20, noSync: true, noMetaSync: true)
        )
        defer { environment.close() }
        let database = try environment.openDatabase(named: "items")
        let pageSizeBytes = try environment.pageSizeBytes
        #expect(pageSizeBytes >= 4096)
        #expect(pageSizeBytes & (pageSizeBytes - 1) == 0)

        let before = try environment.info
        #expect(before.mapSizeBytes == 4 << 20)
        #expect(before.readersCountMax >= 126)
        try environment.write { (transaction) throws in
            try transaction.put(database, key: [1], value: [1])
        }
        let after = try environment.info
        #expect(after.lastTransactionID == before.lastTransactionID + 1)
        #expect(after.lastPageNumber > 0)
        // A read in progress holds a reader slot.
        let usedDuringRead = try environment.read { _ in try environment.info.readersCountUsed }
        #expect(usedDuringRead >= 1)
        try environment.sync(force: true)
    }

    @Test func mapFullIsReportedAndRecoverableBySetMapSize() throws {
        let environment = try LMDBEnvironment(
            path: directory.path("environment"),
            options: .init(mapSizeBytes: 64 << 10)
        )
        defer { environment.close() }
        let database = try environment.openDatabase(named: "items")
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "small".bytes, value: [1])
        }
        let large = [UInt8](repeating: 0xAB, count: 128 << 10)
        let writeLarge = {
            try environment.write { (transaction) throws in
                try transaction.put(database, key: "large".bytes, value: large)
            }
        }

        let error = #expect(throws: LMDBError.self) { try writeLarge() }
        #expect(error?.isMapFull == true)
        #expect(error?.isReadersFull == false)

        // Still usable: earlier data readable, nothing of the failed write kept, small writes work.
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "small".bytes) == [1])
            #expect(try transaction.get(database, key: "large".bytes) == nil)
        }
        try environment.write { (transaction) throws in
            try transaction.put(database, key: "small2".bytes, value: [2])
        }

        try environment.setMapSize(bytes: 4 << 20)
        #expect(try environment.info.mapSizeBytes == 4 << 20)
        try writeLarge()
        try environment.read { (transaction) throws in
            #expect(try transaction.get(database, key: "large".bytes) == large)
            #expect(try transaction.count(database) == 3)
        }
    }

    @Test func setMapSizeRefusesWhileATransactionIsActive() throws {
        let environment = try LMDBEnvironment(path: directory.path("environment"))
        defer { environment.close() }
        _ = try environment.read { (_) throws in
            #expect(throws: LMDBError(code: EBUSY, operation: "mdb_env_set_mapsize")) {
                try environment.setMapSize(bytes: 2 << 30)
            }
        }
        #expect(throws: LMDBError(code: EINVAL, operation: "mdb_env_set_mapsize")) {
            try environment.setMapSize(bytes: 0)
        }
        try environment.setMapSize(bytes: 2 << 30)
        #expect(try environment.info.mapSizeBytes == 2 << 30)
    }

    @Test func readersFullIsReported() throws {
        let environment = try LMDBEnvironment(
            path: directory.path("environment"),
            options: .init(readersCountMax: 1)
        )
        defer { environment.close() }
        // LMDB rounds the reader table up to whole pages, so learn the real limit.
        let readersCountMax = try environment.info.readersCountMax
        #expect(readersCountMax >= 1)

        // Nest read transactions, each taking a slot, until LMDB refuses one.
        func nest(_ depth: Int) throws -> Int {
            do {
                return try environment.read { _ in try nest(depth + 1) }
            } catch let error as LMDBError where error.isReadersFull {
                return depth
            }
        }
        #expect(try nest(0) == readersCountMax)
        // Every slot was released as the transactions ended: the same depth is reachable again.
        #expect(try nest(0) == readersCountMax)
    }

    @Test func closedEnvironmentThrowsTypedErrors() throws {
        let environment = try LMDBEnvironment(path: directory.path("environment"))
        let database = try environment.openDatabase(named: "items")
        environment.close()
        environment.close()

        let closed = LMDBError(code: EINVAL, operation: "closed")
        #expect(throws: closed) { try environment.read { _ in 1 } }
        #expect(throws: closed) {
            try environment.write { transaction in try transaction.put(database, key: [1], value: [1]) }
        }
        #expect(throws: closed) { try environment.openDatabase(named: "other") }
        #expect(throws: closed) { try environment.sync(force: true) }
        #expect(throws: closed) { try environment.setMapSize(bytes: 1 << 30) }
        #expect(throws: closed) { try environment.info }
        #expect(throws: closed) { try environment.pageSizeBytes }
        #expect(closed.isClosed)
        #expect(closed.description == "closed: Invalid argument (22)")
    }

    @Test func closeDuringATransactionTakesEffectWhenItEnds() throws {
        let environment = try LMDBEnvironment(path: directory.path("environment"))
        let database = try environment.openDatabase(named: "items")
        try environment.write { (transaction) throws in
            environment.close()
            // The running transaction keeps a valid handle and still commits.
            try transaction.put(database, key: [1], value: [42])
        }
        #expect(throws: LMDBError(code: EINVAL, operation: "closed")) { try environment.read { _ in 1 } }

        let reopened = try LMDBEnvironment(path: directory.path("environment"))
        defer { reopened.close() }
        let reopenedDatabase = try reopened.openDatabase(named: "items")
        #expect(try reopened.read { try $0.get(reopenedDatabase, key: [1]) } == [42])
    }

    @Test func concurrentWritersAndReadersAllSucceed() async throws {
        let environment = try LMDBEnvironment(path: directory.path("environment"), options: .init(noSync: true))
        defer { environment.close() }
        let database = try environment.openDatabase(named: "items")
        let tasksCount = 8
        let writesPerTask = 50
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasksCount {
                group.addTask {
                    for index in 0..<writesPerTask {
                        let key: [UInt8] = [UInt8(task), UInt8(index)]
                        try environment.write { (transaction) throws in
                            try transaction.put(database, key: key, value: [UInt8(index)])
                        }
                        let value = try environment.read { try $0.get(database, key: key) }
                        #expect(value == [UInt8(index)])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try environment.read { try $0.count(database) } == tasksCount * writesPerTask)
    }

    @Test func errorDescriptionNamesOperationAndCode() {
        let error = LMDBError(code: -30792, operation: "mdb_put")
        #expect(error.isMapFull)
        #expect(!error.isNotFound)
        #expect(error.description == "mdb_put: MDB_MAP_FULL: Environment mapsize limit reached (-30792)")
        #expect(LMDBError(code: -30798, operation: "mdb_get").isNotFound)
        #expect(LMDBError(code: -30799, operation: "mdb_put").isKeyExists)
        #expect(LMDBError(code: -30790, operation: "mdb_txn_begin").isReadersFull)
    }
}
