import Foundation
import PurserPolicy
import Testing

/// Every file of tests/corpus/policies (`NNN-name.yaml` or `.json`) parsed with
/// `PolicyParser.parse(contentsOfFile:)`: its problems, as `FILE:LINE:COLUMN: message` lines, are
/// exactly the lines of `NNN-name.expected`, where `{file}` stands for the path. The one valid
/// control file's .expected holds the summary `purser check-policy` prints instead.
/// tests/corpus/test_policies_cli.py checks the same files through the CLI.
@Suite struct PolicyCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tests/corpus/policies")

    static let files: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
    }()

    @Test func corpusIsLarge() {
        #expect(Self.files.count >= 30)
        #expect(Self.files.filter { $0.hasSuffix(".json") }.count >= 2)
    }

    @Test(arguments: files)
    func problemsAreExactlyTheExpectedLines(_ name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let expectedURL = Self.directory.appendingPathComponent((name as NSString).deletingPathExtension + ".expected")
        let expectedText = try #require(try? String(contentsOf: expectedURL, encoding: .utf8), "no .expected file for \(name)")
        let expected = expectedText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .map { $0.replacingOccurrences(of: "{file}", with: path) }
        #expect(expectedText.hasSuffix("\n"), "\(name): .expected ends with a newline")
        #expect(!expected.isEmpty)

        let lines: [String]
        do {
            lines = [PolicySummary(try PolicyParser.parse(contentsOfFile: path)).description]
        } catch {
            #expect(!error.problems.isEmpty)
            lines = error.problems.map(\.description)
            // Problems come in file order, each at a real position.
            let positions = error.problems.map { [$0.line, $0.column] }
            #expect(positions == positions.sorted { $0.lexicographicallyPrecedes($1) })
            #expect(error.problems.allSatisfy { $0.file == path && $0.line >= 1 && $0.column >= 1 })
        }
        #expect(lines == expected)
    }
}
