import Foundation
import PurserSQLite

/// A fresh directory under the system temporary directory, removed on deinit, so each
/// test runs against its own database files (including `-wal` and `-shm`).
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("purser-sqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

extension SQLiteDatabase {
    /// The single value of a one-row, one-column query, for assertions.
    func scalar(_ sql: String, _ values: [SQLiteValue] = []) throws -> SQLiteValue? {
        try prepare(sql).firstRow(values)?.first
    }
}
