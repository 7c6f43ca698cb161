import Yams

/// A 1-based line and column; columns count Unicode scalars, as libyaml's marks do.
struct SourcePosition: Hashable, Comparable, Sendable {
    var line: Int
    var column: Int

    static let start = SourcePosition(line: 1, column: 1)

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init(_ mark: Mark?) {
        self = mark.map { SourcePosition(line: $0.line, column: $0.column) } ?? .start
    }

    init(_ node: Node) {
        self.init(node.mark)
    }

    static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    var prose: String { "line \(line), column \(column)" }
}

/// The YAML (or JSON) text of a policy file composed into a node tree, with positions.
///
/// Yams rejects a mapping with a repeated key by throwing at the first occurrence and producing no
/// tree, which would hide every other problem in the file. So on that error the loader renames the
/// reported occurrence in place, replacing its first character with a private-use character (one
/// Unicode scalar for one, so no column moves), and composes again. `restoredKeys` maps the renamed
/// keys' positions back to their real text; the validator then sees both occurrences and reports
/// the later one, with its own position, in the words of the mapping it belongs to.
struct PolicyDocument {
    var root: Node?
    /// False when the text could not be composed at all; `problems` then says why.
    var composed: Bool
    var restoredKeys: [SourcePosition: String]
    var problems: [(position: SourcePosition, message: String)]
    /// True when plain scalars were composed without implicit tag resolution (`Resolver.basic`):
    /// readers must then classify them with `PlainScalarTag`.
    var plainScalarsUnresolved: Bool = false

    /// Each rename costs one more compose of the whole text, so their number is bounded.
    static let renamesMax = 100

    static func load(_ original: String) -> PolicyDocument {
        var text = original
        if text.unicodeScalars.first == "\u{FEFF}" {
            // libyaml rejects a byte order mark in a UTF-8 string; editors do not show it, so columns
            // counted without it are the ones the user sees.
            text.unicodeScalars.removeFirst()
        }
        var scalars: [Unicode.Scalar]? = nil
        var restored: [SourcePosition: String] = [:]
        var nextPrivateUse: UInt32 = 0xE000

        // Explicit tags (`!!str 5`) are told apart from implicit ones only by Yams's own resolver;
        // a file without any `!` cannot have one, and is composed without the regular expressions.
        let fast = !text.utf8.contains(UInt8(ascii: "!"))
        while true {
            let error: YamlError
            do {
                let root = try Yams.compose(yaml: text, fast ? .basic : .default, .default, .utf8)
                var document = PolicyDocument(root: root, composed: true, restoredKeys: restored, problems: [])
                document.plainScalarsUnresolved = fast
                return document
            } catch let yamlError as YamlError {
                error = yamlError
            } catch {
                return failure(restored, [(.start, "invalid YAML: \(error)")])
            }

            if case .duplicatedKeysInMapping(let duplicates, let context) = error, let key = duplicates.first {
                let position = SourcePosition(context.mark)
                if restored.count < renamesMax {
                    if scalars == nil { scalars = Array(text.unicodeScalars) }
                    if let index = renameableIndex(of: key, at: position, in: scalars!),
                       let replacement = privateUseScalar(notIn: text, from: &nextPrivateUse) {
                        scalars![index] = replacement
                        text = String(String.UnicodeScalarView(scalars!))
                        restored[position] = key
                        continue
                    }
                }
                return failure(restored, [(position, "duplicate key \(PolicyText.quoted(key))")])
            }
            return failure(restored, [describe(error, in: text)])
        }
    }

    private static func failure(
        _ restored: [SourcePosition: String], _ problems: [(position: SourcePosition, message: String)]
    ) -> PolicyDocument {
        // Without a tree the later occurrences cannot be found; report the renamed ones where they are.
        let duplicates = restored.map { (position: $0.key, message: "duplicate key \(PolicyText.quoted($0.value))") }
        return PolicyDocument(root: nil, composed: false, restoredKeys: [:], problems: duplicates + problems)
    }

    /// The index of the scalar to overwrite so that the key reported at `position` becomes unique:
    /// its first character, just inside the quote if it is quoted. `nil` unless the text there is
    /// exactly what we expect (an anchor, a tag or an escape sequence is left alone).
    private static func renameableIndex(of key: String, at position: SourcePosition, in scalars: [Unicode.Scalar]) -> Int? {
        guard let first = key.unicodeScalars.first, var index = scalarIndex(of: position, in: scalars) else { return nil }
        if scalars[index] == "\"" || scalars[index] == "'" {
            index += 1
            guard index < scalars.count else { return nil }
        }
        guard scalars[index] == first, first != "\\", first != "\"", first != "'" else { return nil }
        return index
    }

    private static func privateUseScalar(notIn text: String, from next: inout UInt32) -> Unicode.Scalar? {
        while next <= 0xF8FF {
            let candidate = Unicode.Scalar(next)!
            next += 1
            if !text.unicodeScalars.contains(candidate) { return candidate }
        }
        return nil
    }

    static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\n" || scalar == "\r" || scalar == "\u{85}" || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    /// Counts lines the way libyaml does: CR LF is one break; CR, LF, NEL, LS and PS are one each.
    static func scalarIndex(of position: SourcePosition, in scalars: [Unicode.Scalar]) -> Int? {
        var line = 1
        var column = 1
        var index = 0
        while index < scalars.count {
            if line == position.line && column == position.column { return index }
            if line > position.line { return nil }
            if isLineBreak(scalars[index]) {
                if scalars[index] == "\r", index + 1 < scalars.count, scalars[index + 1] == "\n" { index += 1 }
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += 1
        }
        return nil
    }

    static func position(ofScalarOffset offset: Int, in scalars: some Collection<Unicode.Scalar>) -> SourcePosition {
        var line = 1
        var column = 1
        var previous: Unicode.Scalar? = nil
        for scalar in scalars.prefix(offset) {
            if isLineBreak(scalar) {
                if !(scalar == "\n" && previous == "\r") {
                    line += 1
                    column = 1
                }
            } else {
                column += 1
            }
            previous = scalar
        }
        return SourcePosition(line: line, column: column)
    }

    private static func describe(_ error: YamlError, in text: String) -> (position: SourcePosition, message: String) {
        func withContext(_ problem: String, _ context: YamlError.Context?) -> String {
            guard let context else { return "invalid YAML: \(problem)" }
            return "invalid YAML: \(problem) (\(context.text) at \(SourcePosition(context.mark).prose))"
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            return (SourcePosition(mark), withContext(problem, context))
        case .composer(let context, let problem, let mark, _):
            if problem == "but found another document" {
                return (SourcePosition(mark), "invalid YAML: expected a single document, but found another document")
            }
            return (SourcePosition(mark), withContext(problem, context))
        case .reader(let problem, let offset, _, _):
            var position = SourcePosition.start
            if let offset, offset >= 0, offset <= text.count {
                let end = text.index(text.startIndex, offsetBy: offset)
                position = self.position(ofScalarOffset: text.unicodeScalars.distance(from: text.startIndex, to: end),
                                         in: text.unicodeScalars)
            }
            return (position, "invalid YAML: \(problem)")
        case .memory:
            return (.start, "invalid YAML: out of memory")
        default:
            return (.start, "invalid YAML: \(error)")
        }
    }
}
