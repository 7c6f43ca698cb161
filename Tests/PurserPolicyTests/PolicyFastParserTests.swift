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
    static func difference(_ fast: PolicyNodeTree, _ yams: PolicyNodeTree, restoredKeys: [SourcePosition: String] = [:]) -> String? {
        difference(fast.root, in: fast, yams.root, in: yams, restoredKeys: restoredKeys, path: "root")
    }

    /// The first difference between `fast` (a node of `fastTree`) and `yams` (of `yamsTree`).
    static func difference(
        _ fast: PolicyNode?, in fastTree: PolicyNodeTree, _ yams: PolicyNode?, in yamsTree: PolicyNodeTree,
        restoredKeys: [SourcePosition: String], path: String
    ) -> String? {
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
            let aPairs = fastTree.pairs(of: a)
            let bPairs = yamsTree.pairs(of: b)
            if aPairs.count != bPairs.count { return "\(path): \(aPairs.count) pairs != \(bPairs.count)" }
            for (offset, (left, right)) in zip(aPairs, bPairs).enumerated() {
                if let found = difference(left.key, in: fastTree, right.key, in: yamsTree, restoredKeys: restoredKeys, path: "\(path).key#\(offset)") {
                    return found
                }
                if let found = difference(
                    left.value, in: fastTree, right.value, in: yamsTree, restoredKeys: restoredKeys, path: "\(path).value#\(offset)"
                ) {
                    return found
                }
            }
            return nil
        case (.sequence(let a), .sequence(let b)):
            if a.position != b.position { return "\(path): sequence position \(a.position.prose) != \(b.position.prose)" }
            let aItems = fastTree.items(of: a)
            let bItems = yamsTree.items(of: b)
            if aItems.count != bItems.count { return "\(path): \(aItems.count) items != \(bItems.count)" }
            for (offset, (left, right)) in zip(aItems, bItems).enumerated() {
                if let found = difference(left, in: fastTree, right, in: yamsTree, restoredKeys: restoredKeys, path: "\(path)[\(offset)]") {
                    return found
                }
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
            if let found = difference(fast, yams, restoredKeys: document.restoredKeys) { return found }
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
        #expect(Self.difference(fast, yams) == nil)
        #expect(Self.difference(Self.changingQuotedStyles(fast), yams) != nil)
    }

    @Test func comparisonCatchesAWrongPosition() throws {
        let text = "version: 1\nkeys:\n  - id: k\n"
        let fast = try #require(PolicyFastParser.tree(of: text))
        let document = PolicyDocument.load(text)
        let yams = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
        #expect(Self.difference(fast, yams) == nil)
        guard case .mapping(var mapping) = try #require(fast.root) else {
            Issue.record("root is not a mapping")
            return
        }
        mapping.position.column += 1
        var wrong = fast
        wrong.root = .mapping(mapping)
        #expect(Self.difference(wrong, yams) != nil)
    }

    /// The tree with every single-quoted scalar marked double-quoted.
    static func changingQuotedStyles(_ tree: PolicyNodeTree) -> PolicyNodeTree {
        func changing(_ node: PolicyNode) -> PolicyNode {
            guard case .scalar(var scalar) = node, scalar.style == .singleQuoted else { return node }
            scalar.style = .doubleQuoted
            return .scalar(scalar)
        }
        var changed = tree
        changed.root = tree.root.map(changing)
        changed.pairs = tree.pairs.map { (changing($0.key), changing($0.value)) }
        changed.items = tree.items.map(changing)
        return changed
    }

    @Test func comparisonCatchesAMissingPair() throws {
        let text = "version: 1\nplans: { p: { models: [m] }, q: { models: [n] } }\n"
        let fast = try #require(PolicyFastParser.tree(of: text))
        let document = PolicyDocument.load(text)
        let yams = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
        #expect(Self.difference(fast, yams) == nil)
        guard case .mapping(let mapping) = try #require(fast.root) else {
            Issue.record("root is not a mapping")
            return
        }
        var wrong = fast
        let range = mapping.pairsRange
        wrong.root = .mapping(PolicyNode.Mapping(pairsRange: range.lowerBound..<range.upperBound - 1, position: mapping.position, identity: 0))
        #expect(Self.difference(wrong, yams) != nil)
    }

    // MARK: - Flat storage

    /// Each collection's range holds exactly its own children, in order, however deeply
    /// collections nest and wherever an empty one sits.
    @Test func collectionsOwnTheirRanges() throws {
        let text = "a: {b: [1, {}, [], [2, 3]], c: {}}\nd:\n  - e: []\n    f: {g: h}\n  - []\ni: j\n"
        let tree = try #require(PolicyFastParser.tree(of: text))
        #expect(tree.mappingsCount == 6)
        #expect(tree.sequencesCount == 6)
        func render(_ node: PolicyNode) -> String {
            switch node {
            case .scalar(let scalar): return scalar.string
            case .mapping(let mapping):
                return "{" + tree.pairs(of: mapping).map { render($0.key) + ":" + render($0.value) }.joined(separator: ",") + "}"
            case .sequence(let sequence): return "[" + tree.items(of: sequence).map(render).joined(separator: ",") + "]"
            case .alias: return "*"
            }
        }
        #expect(render(try #require(tree.root)) == "{a:{b:[1,{},[],[2,3]],c:{}},d:[{e:[],f:{g:h}},[]],i:j}")
        // Every pair and item belongs to exactly one collection: nothing left over, nothing shared.
        #expect(tree.pairs.count == 8)
        #expect(tree.items.count == 8)
    }

    /// The counts that size the two big arrays match a byte-at-a-time count, at every length
    /// around the sixteen-byte steps and past a batch of 255 steps.
    @Test func entryMarksAreCounted() {
        var random = SeededRandom(seed: 0x5EED_0003)
        let alphabet = Array(":-,[a {}\n".utf8)
        for length in Array(0...40) + [16 * 255 - 1, 16 * 255, 16 * 255 + 17, 16 * 600 + 5] {
            // Mostly marks, so that byte-wide counters would wrap if a batch were too long.
            let bytes = (0..<length).map { _ in random.chance(90) ? UInt8(ascii: ":") : alphabet[random.next(alphabet.count)] }
            let expected = (bytes.filter { $0 == UInt8(ascii: ":") }.count,
                            bytes.filter { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "[") }.count)
            let counted = bytes.withUnsafeBufferPointer { PolicyFastParser.countEntryMarks($0) }
            #expect(counted.colons == expected.0 && counted.itemMarks == expected.1, "length \(length)")
        }
        let dashes = Array(repeating: UInt8(ascii: "-"), count: 16 * 300)
        #expect(dashes.withUnsafeBufferPointer { PolicyFastParser.countEntryMarks($0) }.itemMarks == 16 * 300)
    }

    /// A mapping used through aliases keeps one identity (the validator checks it once), and
    /// every use reads the same pairs from the flat arrays.
    @Test func aliasesKeepTheirIdentity() throws {
        let text = "a: &x {b: [1]}\nc: *x\nd: *x\n"
        let document = PolicyDocument.load(text)
        let tree = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
        #expect(tree.mappingsCount == 2)
        #expect(tree.sequencesCount == 1)
        guard case .mapping(let root) = try #require(tree.root) else {
            Issue.record("root is not a mapping")
            return
        }
        let uses = tree.pairs(of: root).map(\.value)
        #expect(uses.count == 3)
        for use in uses {
            guard case .mapping(let mapping) = use else {
                Issue.record("an alias is not a mapping")
                continue
            }
            #expect(mapping.identity == 1)
            let pairs = tree.pairs(of: mapping)
            guard pairs.count == 1, case .scalar(let key) = pairs[pairs.startIndex].key, case .sequence(let items) = pairs[pairs.startIndex].value else {
                Issue.record("an alias does not read {b: [1]}")
                continue
            }
            #expect(key.string == "b")
            #expect(tree.items(of: items).count == 1)
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
