/// A glob over model names: `*` matches any run of characters (including none), `?` exactly one,
/// and `[...]` one character from a set (`[a-z0-9]`, negated with `[!...]`). A backslash makes
/// the next character literal. Matching is on bytes, case-sensitive, and anchored at both ends.
public struct ModelPattern: Hashable, Sendable, CustomStringConvertible {
    public let pattern: String
    private let elements: [Element]

    private enum Element: Hashable, Sendable {
        case literal(UInt8)
        case anyOne
        case anyRun
        case set(ranges: [ClosedRange<UInt8>], negated: Bool)
    }

    public enum ParseError: Error, Equatable, Sendable {
        case empty
        case unclosedSet(offset: Int)
        case emptySet(offset: Int)
        case trailingEscape
        case invalidRange(offset: Int)
        case nonPrintable(offset: Int)
    }

    /// Parses a pattern, or throws a `ParseError` naming the byte offset at fault.
    public init(_ pattern: String) throws(ParseError) {
        let bytes = Array(pattern.utf8)
        guard !bytes.isEmpty else { throw .empty }
        var elements: [Element] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte > 0x20, byte != 0x7f else { throw .nonPrintable(offset: index) }
            switch byte {
            case UInt8(ascii: "*"):
                // Consecutive stars are one star; keeping one makes matching linear in practice.
                if elements.last != .anyRun { elements.append(.anyRun) }
                index += 1
            case UInt8(ascii: "?"):
                elements.append(.anyOne)
                index += 1
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { throw .trailingEscape }
                elements.append(.literal(bytes[index + 1]))
                index += 2
            case UInt8(ascii: "["):
                let start = index
                index += 1
                var negated = false
                if index < bytes.count, bytes[index] == UInt8(ascii: "!") {
                    negated = true
                    index += 1
                }
                var ranges: [ClosedRange<UInt8>] = []
                while index < bytes.count, bytes[index] != UInt8(ascii: "]") {
                    let low = bytes[index]
                    if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "-"), bytes[index + 2] != UInt8(ascii: "]") {
                        let high = bytes[index + 2]
                        guard low <= high else { throw .invalidRange(offset: index) }
                        ranges.append(low...high)
                        index += 3
                    } else {
                        ranges.append(low...low)
                        index += 1
                    }
                }
                guard index < bytes.count else { throw .unclosedSet(offset: start) }
                guard !ranges.isEmpty else { throw .emptySet(offset: start) }
                elements.append(.set(ranges: ranges, negated: negated))
                index += 1  // the closing bracket
            default:
                elements.append(.literal(byte))
                index += 1
            }
        }
        self.pattern = pattern
        self.elements = elements
    }

    /// True when the pattern has no wildcard, so it names exactly one model.
    public var isLiteral: Bool {
        elements.allSatisfy { if case .literal = $0 { return true } else { return false } }
    }

    public var description: String { pattern }

    public func matches(_ model: String) -> Bool {
        matches(Array(model.utf8))
    }

    /// Iterative wildcard matching with single-star backtracking: O(pattern × text) worst case,
    /// never exponential, so a hostile model name cannot make a decision slow.
    public func matches(_ text: [UInt8]) -> Bool {
        var textIndex = 0
        var elementIndex = 0
        var starElement = -1
        var starText = 0
        while textIndex < text.count {
            if elementIndex < elements.count {
                switch elements[elementIndex] {
                case .anyRun:
                    starElement = elementIndex
                    starText = textIndex
                    elementIndex += 1
                    continue
                case .anyOne:
                    elementIndex += 1
                    textIndex += 1
                    continue
                case .literal(let byte) where byte == text[textIndex]:
                    elementIndex += 1
                    textIndex += 1
                    continue
                case .set(let ranges, let negated) where ranges.contains { $0.contains(text[textIndex]) } != negated:
                    elementIndex += 1
                    textIndex += 1
                    continue
                default:
                    break
                }
            }
            guard starElement >= 0 else { return false }
            elementIndex = starElement + 1
            starText += 1
            textIndex = starText
        }
        while elementIndex < elements.count, elements[elementIndex] == .anyRun {
            elementIndex += 1
        }
        return elementIndex == elements.count
    }

    public static func == (lhs: ModelPattern, rhs: ModelPattern) -> Bool { lhs.pattern == rhs.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}

extension Array where Element == ModelPattern {
    /// True when any pattern matches.
    public func anyMatches(_ model: String) -> Bool {
        let bytes = [UInt8](model.utf8)
        return contains { $0.matches(bytes) }
    }
}
