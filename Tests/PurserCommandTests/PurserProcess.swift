import Foundation

/// Runs the real `purser` binary built by SwiftPM, as a user's shell would.
struct PurserProcess {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// `PURSER_BIN`, else the `purser` SwiftPM built beside this test bundle (so a build in any
    /// scratch path, sanitizers included, tests its own binary), else `.build/debug/purser`.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["PURSER_BIN"] {
            return URL(fileURLWithPath: path)
        }
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("purser")
        if FileManager.default.isExecutableFile(atPath: sibling.path) {
            return sibling
        }
        return repositoryRoot.appendingPathComponent(".build/debug/purser")
    }

    struct Result {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData, as: UTF8.self)
        )
    }

    static func temporaryFile(named name: String, contents: String) throws -> String {
        let directory = NSTemporaryDirectory() + "purser-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
