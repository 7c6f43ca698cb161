import Foundation
import Testing
import Yams
@testable import PurserPolicy

/// `PolicyFastParser` must either decline a text or build exactly the tree Yams composes for it,
/// and `PolicyParser.parse` must answer exactly as the Yams-only path does.
@Suite struct PolicyFastParserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func file(_ relativePath: String) -> String? {
        try? String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    static let corpusTexts: [String] = {
        let directory = root.appendingPathComponent("tests/corpus/policies")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".json") }.sorted()
        return names.compactMap { file("tests/corpus/policies/" + $0) }
    }()

    /// The multi-line string literals of PolicyParserTests.swift, with the few interpolations
    /// they use filled in (a literal with any other interpolation is left out).
    static let parserTestLiterals: [String] = {
        guard let source = file("Tests/PurserPolicyTests/PolicyParserTests.swift") else { return [] }
        var literals: [String] = []
        let parts = source.components(separatedBy: "\"\"\"")
        var index = 1
        while index < parts.count {
            var lines = parts[index].components(separatedBy: "\n")
            index += 2
            guard lines.count >= 2, lines.first?.trimmingCharacters(in: .whitespaces).isEmpty == true else { continue }
            let indentation = lines.last?.count ?? 0
            lines = lines.dropFirst().dropLast().map { String($0.dropFirst(min(indentation, $0.prefix { $0 == " " }.count))) }
            var text = lines.joined(separator: "\n")
            for (name, value) in [("hashA", hashA), ("hashB", hashB), ("hashC", hashC), ("hashD", hashD),
                                  ("hashB.uppercased()", hashB.uppercased())] {
                text = text.replacingOccurrences(of: "\\(\(name))", with: value)
            }
            text = text.replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
            if !text.contains("\\(") { literals.append(text) }
        }
        return literals
    }()

    /// Corners of the subset (and just outside it), valid policies or not.
    static let edgeTexts: [String] = [
        "version: 1\nprices:\nplans:\n", "version: 1\nprices:   # none yet\n\nplans: {}\n", "version:\n",
        "version: 1\nkeys:\n- id: a\n  tenant: t\n- id: b\n", "version: 1\nkeys:\n  - - a\n    - b\n  -   id: c\n      x: 1\n",
        "version: 1\n\"plans\" : { 'p q' : { models: [ \"a\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\\e\\t\" ] } }\n",
        "version: 1\ntenants: { t: { name: \"caf\u{E9} \\\"x\\\" \\\\\", plan: 'it''s' } }\n",
        "n\u{E4}me: 1\nversion: \u{E9}\u{E9} x\nx: [\u{E9}, 'b', \u{E9}]\nother: {\u{E9}: \u{E9}, b: [\u{E9}]}\n",
        "---\nversion: 1\n", "--- # c\nversion: 1\n...\n", "---\n---\n", "# only a comment\n",
        "{\n  \"version\": 1,  # c\n  \"plans\": {\n    # c\n    \"p\": { \"models\": [\"*\"] }\n  }\n}\n",
        "[\n1,\n2\n]\n", "{\"a\":1,\"b\":[true,false,null,-1.5e3,\"x\"]}", "{a: 1}\n# trailing\n\n",
        "version: 1 # c\nx: a#b\ny: a #b\nz: 'q'#c\n", "version: 1\nx: a:b\ny: {a: b:c}\nz: [a:b, c]\n",
        "version: 1\nx: [a, b]: c\n", "version: 1\nx:\n  y: 1\n   z: 2\n", "version: 1\nx:\n    y: 1\n  z: 2\n",
        "version: 1\nx: -1\ny: - 1\nz: -\n", "version: 1\nx: [1, 2\n", "version: 1\nx: [1, 2\n  ,3]\n",
        "version: 1\nx: {a: [1,\n2]}\n", "version: 1\nx: {a: [1,\n ...]}\n", "version: 1\nx: {a: [1,\n---]}\n",
        "version: 1\nkeys: [{id: a, expires_at: 2027-06-30T00:00:00Z}]\n", "version: 1\nx: {a:, b: c}\n", "version: 1\nx: {a: 1, a: 2}\n",
        "version: 1\nversion: 2\n", "version: 1\nx: \"\\/\"\n", "version: 1\nx: \"\\0\"\n", "version: 1\nx: \"\\ud83d\"\n",
        "  version: 1\n  plans: {}\n", "version: 1\nplans:\n  p:\n    models:\n    - a\n    - b\n    rate_limits: {rpm: 1}\n",
        "version: 1\nx: 'a' b\n", "version: 1\nx: \"a\"b\n", "version : 1\n'x'   : 2\n", "? a\n", "version: 1\n? a\n: b\n",
    ]

    static var knownTexts: [String] {
        [file("examples/policy.yaml"), file("tests/integration/policy.yaml")].compactMap { $0 }
            + corpusTexts + [goodYAML, goodJSON] + parserTestLiterals + problemCases.map(\.text) + edgeTexts
    }

    // MARK: - Comparison

    /// A description of the first difference between the two trees, or `nil` if they are equal.
    /// `restoredKeys` are the keys the Yams loader renamed, by position.
    static func difference(_ fast: PolicyNode?, _ yams: PolicyNode?, restoredKeys: [SourcePosition: String] = [:], path: String = "root") -> String? {
        switch (fast, yams) {
        case (nil, nil): return nil
        case (nil, _), (_, nil): return "\(path): one tree is empty"
        case (.scalar(let a), .scalar(let b)):
            let restored = restoredKeys[b.position]
            let bString = restored ?? b.string
            if a.string != bString { return "\(path): string \(a.string.debugDescription) != \(bString.debugDescription)" }
            if a.style != b.style { return "\(path): style \(a.style) != \(b.style) for \(a.string.debugDescription)" }
            // A key the loader renamed resolves as the renamed text there; the validator restores only its text.
            if restored == nil, a.resolvedTag != b.resolvedTag { return "\(path): tag \(a.resolvedTag) != \(b.resolvedTag) for \(a.string.debugDescription)" }
            if a.position != b.position { return "\(path): position \(a.position.prose) != \(b.position.prose) for \(a.string.debugDescription)" }
            return nil
        case (.mapping(let a), .mapping(let b)):
            if a.position != b.position { return "\(path): mapping position \(a.position.prose) != \(b.position.prose)" }
            if a.pairs.count != b.pairs.count { return "\(path): \(a.pairs.count) pairs != \(b.pairs.count)" }
            for (offset, (left, right)) in zip(a.pairs, b.pairs).enumerated() {
                if let found = difference(left.key, right.key, restoredKeys: restoredKeys, path: "\(path).key#\(offset)") { return found }
                if let found = difference(left.value, right.value, restoredKeys: restoredKeys, path: "\(path).value#\(offset)") { return found }
            }
            return nil
        case (.sequence(let a), .sequence(let b)):
            if a.position != b.position { return "\(path): sequence position \(a.position.prose) != \(b.position.prose)" }
            if a.items.count != b.items.count { return "\(path): \(a.items.count) items != \(b.items.count)" }
            for (offset, (left, right)) in zip(a.items, b.items).enumerated() {
                if let found = difference(left, right, restoredKeys: restoredKeys, path: "\(path)[\(offset)]") { return found }
            }
            return nil
        default:
            return "\(path): different kinds of node"
        }
    }

    /// A description of how the fast parser and the Yams path disagree on `text`, or `nil`.
    static func disagreement(_ text: String) -> String? {
        if let fast = PolicyFastParser.tree(of: text) {
            let document = PolicyDocument.load(text)
            guard document.composed else {
                return "the fast parser accepted text that Yams rejects: \(document.problems.map(\.message))"
            }
            let yams = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
            if let found = difference(fast.root, yams.root, restoredKeys: document.restoredKeys) { return found }
        }
        let combined = Result { () throws(PolicyValidationError) -> Policy in try PolicyParser.parse(text, fileName: "p.yaml") }
        let yamsOnly = Result { () throws(PolicyValidationError) -> Policy in try PolicyParser.parseThroughYams(text, fileName: "p.yaml") }
        switch (combined, yamsOnly) {
        case (.success(let a), .success(let b)):
            return a == b ? nil : "the policies differ"
        case (.failure(let a), .failure(let b)):
            return a.problems == b.problems ? nil : "the problems differ: \(a.problems) != \(b.problems)"
        default:
            return "one path accepts the policy and the other does not"
        }
    }

    // MARK: - Known texts

    @Test func knownTextsAreMany() {
        #expect(Self.corpusTexts.count >= 30)
        #expect(Self.parserTestLiterals.count >= 3)
        #expect(Self.knownTexts.count >= 100)
    }

    @Test func knownTextsAgree() {
        for text in Self.knownTexts {
            let found = Self.disagreement(text)
            #expect(found == nil, "\(found ?? "")\n--- text:\n\(text.prefix(2_000))")
        }
    }

    /// Small edits of every known text: deleted, repeated or swapped characters and lines. Most
    /// are invalid, some in ways only a careful parser notices.
    @Test func mutatedKnownTextsAgree() {
        var random = SeededRandom(seed: 0x5EED_0001)
        var failures = 0
        for text in Self.knownTexts where text.utf8.count < 20_000 {
            for _ in 0..<40 {
                let mutated = Self.mutate(text, &random)
                if let found = Self.disagreement(mutated) {
                    failures += 1
                    if failures <= 5 { Issue.record("\(found)\n--- text:\n\(mutated.prefix(3_000))") }
                }
            }
        }
        #expect(failures == 0)
    }

    static func mutate(_ text: String, _ random: inout SeededRandom) -> String {
        var characters = Array(text)
        guard !characters.isEmpty else { return text }
        let fragments: [String] = [" ", "  ", "\n", "#", ":", ": ", "-", "- ", "'", "\"", "\\", "{", "}", "[", "]", ",", "!", "&a ", "*a",
                                   "|", ">", "?", "%", "@", "\t", "\r", "~", "\u{FEFF}", "é", "\\u00e9", "''", "...", "---\n", "\n  "]
        let edits = 1 + random.next(3)
        for _ in 0..<edits {
            guard !characters.isEmpty else { break }
            let at = random.next(characters.count)
            switch random.next(5) {
            case 0: characters.remove(at: at)
            case 1: characters.insert(contentsOf: fragments[random.next(fragments.count)], at: at)
            case 2:
                let other = random.next(characters.count)
                characters.swapAt(at, other)
            case 3: characters.insert(characters[at], at: at)
            default:
                var lines = String(characters).components(separatedBy: "\n")
                let line = random.next(lines.count)
                if random.next(2) == 0 { lines.insert(lines[line], at: line) } else { lines.remove(at: line) }
                characters = Array(lines.joined(separator: "\n"))
            }
        }
        return String(characters)
    }

    // MARK: - Generated policies

    @Test func generatedPoliciesAgree() {
        var random = SeededRandom(seed: 0x5EED_0002)
        var failures = 0
        var fastCount = 0
        let total = 2_000
        for _ in 0..<total {
            let text = PolicyTextGenerator.policy(&random)
            if PolicyFastParser.tree(of: text) != nil { fastCount += 1 }
            // The policy itself, and one small edit of it.
            for candidate in [text, Self.mutate(text, &random)] {
                if let found = Self.disagreement(candidate) {
                    failures += 1
                    if failures <= 5 { Issue.record("\(found)\n--- text:\n\(candidate.prefix(4_000))") }
                }
            }
        }
        #expect(failures == 0)
        // The generator writes within the subset almost always: the fast path must take most.
        #expect(fastCount > total * 9 / 10, "fast parser took \(fastCount) of \(total)")
    }

    // MARK: - The comparison can fail

    @Test func comparisonCatchesAWrongStyle() throws {
        let text = "version: 1\nplans: { p: { models: ['m'] } }\n"
        let fast = try #require(PolicyFastParser.tree(of: text))
        let document = PolicyDocument.load(text)
        let yams = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
        #expect(Self.difference(fast.root, yams.root) == nil)
        let wrong = Self.changingQuotedStyles(try #require(fast.root))
        #expect(Self.difference(wrong, yams.root) != nil)
    }

    @Test func comparisonCatchesAWrongPosition() throws {
        let text = "version: 1\nkeys:\n  - id: k\n"
        let fast = try #require(PolicyFastParser.tree(of: text))
        let document = PolicyDocument.load(text)
        let yams = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
        #expect(Self.difference(fast.root, yams.root) == nil)
        guard case .mapping(var mapping) = try #require(fast.root) else {
            Issue.record("root is not a mapping")
            return
        }
        mapping.position.column += 1
        #expect(Self.difference(.mapping(mapping), yams.root) != nil)
    }

    /// The tree with every single-quoted scalar marked double-quoted.
    static func changingQuotedStyles(_ node: PolicyNode) -> PolicyNode {
        switch node {
        case .scalar(var scalar):
            if scalar.style == .singleQuoted { scalar.style = .doubleQuoted }
            return .scalar(scalar)
        case .mapping(var mapping):
            mapping.pairs = mapping.pairs.map { (changingQuotedStyles($0.key), changingQuotedStyles($0.value)) }
            return .mapping(mapping)
        case .sequence(var sequence):
            sequence.items = sequence.items.map(changingQuotedStyles)
            return .sequence(sequence)
        case .alias:
            return node
        }
    }

    // MARK: - The fast path is taken

    @Test func fastPathReadsTheExample() throws {
        let text = try #require(Self.file("examples/policy.yaml"))
        #expect(PolicyFastParser.tree(of: text) != nil)
        #expect(PolicyParser.parseFast(text) != nil)
    }

    @Test func fastPathReadsJSON() throws {
        #expect(PolicyFastParser.tree(of: goodJSON) != nil)
        #expect(PolicyParser.parseFast(goodJSON) != nil)
        #expect(PolicyParser.parseFast(goodYAML) != nil)
        let control = try #require(Self.file("tests/corpus/policies/000-valid-control.yaml"))
        #expect(PolicyParser.parseFast(control) != nil)
    }

    /// The corners the fast parser supports are read by it, so that `knownTextsAgree` compares
    /// its trees there (escapes, non-ASCII columns, empty values, nested and indentless sequences).
    @Test func fastParserReadsTheSupportedCorners() {
        let accepted = Self.edgeTexts.map { PolicyFastParser.tree(of: $0) != nil }
        for index in [0, 1, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 17, 23, 27, 29, 30, 34, 35, 38] {
            #expect(accepted[index], "\(Self.edgeTexts[index].debugDescription)")
        }
    }

    /// A 100,000-key file has millions of nodes: each must stay small.
    @Test func nodesAreSmall() {
        #expect(MemoryLayout<PolicyNode>.stride <= 32)
    }

    @Test func fastParserDeclinesWhatItDoesNotSupport() {
        for text in [
            "version: 1\nplans: &p { a: { models: [m] } }\n", "version: !!int 1\n", "version: |\n  1\n",
            "version: 1\nplans:\n  p: { models: [m,\n    n] }\n  q: x\n   y\n", "\u{FEFF}version: 1\n", "version:\t1\n",
            "version: 1\r\n", "%YAML 1.1\n---\nversion: 1\n", "version: 1\n---\nversion: 1\n", "? version\n: 1\n",
            "version: 'a\n  b'\n", "version: [1,]\n", "",
            "version: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "\n",
        ] {
            #expect(PolicyFastParser.tree(of: text) == nil, "\(text.debugDescription)")
        }
    }
}
