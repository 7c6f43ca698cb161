import Foundation
import PurserLMDB
import Testing

/// `releaseMappedPages` drops the data file's pages from this process's RSS and loses nothing.
@Suite struct MappedPagesTests {
    static let recordsCount = 20_000

    static func key(_ index: Int) -> [UInt8] { Array(String(format: "record-%08d", index).utf8) }
    static func value(_ index: Int, generation: Int) -> [UInt8] { Array(repeating: UInt8(truncatingIfNeeded: index &+ generation), count: 200) }

    /// Resident kilobytes of this process's mappings of `file`, from /proc/self/smaps: only this
    /// test's own file, so tests running beside it cannot disturb the figure.
    static func residentKilobytes(of file: String) throws -> Int {
        let resolved = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
        var total = 0
        var inFile = false
        // Read to the end explicitly: procfs reports a size of 0, and smaps is long.
        let smaps = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps")).readDataToEndOfFile()
        for line in String(decoding: smaps, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 5, fields[0].contains("-"), fields[0].allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                // A mapping's header: "START-END PERMS OFFSET DEVICE INODE [PATH]".
                inFile = fields.count >= 6 && fields[5...].joined(separator: " ") == resolved
            } else if inFile, fields.first == "Rss:", fields.count >= 2 {
                total += Int(fields[1]) ?? 0
            }
        }
        return total
    }

    static func readAll(_ environment: LMDBEnvironment, _ database: LMDBDatabase, generation: Int) throws {
        try environment.read { transaction in
            for index in 0..<recordsCount {
                let stored = try transaction.get(database, key: key(index))
                #expect(stored == value(index, generation: generation))
            }
        }
    }

    @Test(arguments: [false, true])
    func releasedPagesLeaveTheRSSAndComeBackIntact(writeMap: Bool) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("environment")
        let options = LMDBEnvironmentOptions(mapSizeBytes: 64 << 20, noSync: true, writeMap: writeMap)
        var environment: LMDBEnvironment? = try LMDBEnvironment(path: path, options: options)
        let database = try environment!.openDatabase(named: "records")
        try environment!.write { transaction in
            for index in 0..<Self.recordsCount {
                try transaction.put(database, key: Self.key(index), value: Self.value(index, generation: 1))
            }
        }
        try Self.readAll(environment!, database, generation: 1)
        let dataFile = path + "/data.mdb"
        let before = try Self.residentKilobytes(of: dataFile)
        // 20,000 records of ~216 bytes fill over 1,000 pages: the scan mapped them all.
        #expect(before >= 4_000, "the scan should have mapped the file; \(before) KiB resident")

        try environment!.releaseMappedPages()
        let after = try Self.residentKilobytes(of: dataFile)
        #expect(after < before / 10, "\(after) KiB still resident of \(before) KiB")

        // Nothing is lost, before or after a commit that the release did not wait for.
        try Self.readAll(environment!, database, generation: 1)
        try environment!.write { transaction in
            for index in 0..<Self.recordsCount {
                try transaction.put(database, key: Self.key(index), value: Self.value(index, generation: 2))
            }
        }
        try environment!.releaseMappedPages()
        try Self.readAll(environment!, database, generation: 2)

        // And the file holds it: reopened, unsynced but committed writes are there (with the
        // write map, pages dirtied through the map stayed dirty across the release).
        try environment!.sync(force: true)
        environment!.close()
        environment = nil
        let reopened = try LMDBEnvironment(path: path, options: options)
        let reopenedDatabase = try reopened.openDatabase(named: "records")
        try Self.readAll(reopened, reopenedDatabase, generation: 2)
        reopened.close()
    }

    @Test func aClosedEnvironmentRefuses() throws {
        let directory = try TemporaryDirectory()
        let environment = try LMDBEnvironment(path: directory.path("environment"))
        environment.close()
        #expect(throws: LMDBError.self) { try environment.releaseMappedPages() }
    }
}
