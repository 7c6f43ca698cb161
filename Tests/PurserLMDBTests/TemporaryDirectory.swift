import Foundation

/// A fresh directory under the system temporary directory, removed on deinit, so each
/// test runs against its own LMDB files.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("purser-lmdb-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory that does not exist yet, so environments also
    /// exercise directory creation.
    func path(_ name: String) -> String {
        url.appendingPathComponent(name, isDirectory: true).path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
