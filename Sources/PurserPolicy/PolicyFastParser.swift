/// Reads the YAML subset that policy files are written in straight from UTF-8 bytes, into the same
/// `PolicyNode` tree that Yams (libyaml) composes for that text.
///
/// Why: composing a 100,000-key policy through Yams builds a class instance per scalar and takes
/// seconds; policies are reloaded while the daemon serves. The subset: block mappings and sequences
/// by indentation, flow mappings and sequences (multi-line too, so JSON is covered), plain, single-
/// and double-quoted scalars on one line, comments and a leading `---`. Anything else (anchors,
/// aliases, tags, block scalars, multi-line scalars, complex keys, directives, several documents,
/// tabs, carriage returns, a byte order mark, an empty value in a flow collection or a sequence, or
/// any syntax error) makes it return `nil`, and the caller reads the text through Yams instead;
/// `PolicyFastParserTests` checks that every tree it returns is the one Yams composes.
struct PolicyFastParser {
    /// Collections nested deeper than this are left to Yams, so that the recursion here is bounded.
    static let nestingLevelsMax = 64
    /// libyaml allows a key of at most 1024 characters before its `:`; staying well below that
    /// leaves the exact rule to Yams.
    static let keyBytesMax = 1000
    /// At most this many pairs and items are reserved up front (256 MB of address space for the
    /// pairs, never touched unless used): a file of nothing but colons must not ask for gigabytes.
    /// Past it the arrays grow as usual.
    static let reservedEntriesMax = 4_000_000

    /// Why the parser declined; the text then goes through Yams.
    struct Unsupported: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var line = 1
    private var lineStart = 0
    /// The column of `columnOffset`, so that positions on a long line are counted once, not per node.
    private var columnOffset = 0
    private var column = 1
    private var depth = 0
    private var mappingsCount = 0
    private var sequencesCount = 0
    /// The pairs and items of the collections being read, innermost last: when a collection ends,
    /// its own move off the top to the end of `pairs` or `items`, so that each collection's sit
    /// side by side there (see `PolicyNodeTree`).
    private var pendingPairs: [(key: PolicyNode, value: PolicyNode)] = []
    private var pendingItems: [PolicyNode] = []
    private var pairs: [(key: PolicyNode, value: PolicyNode)] = []
    private var items: [PolicyNode] = []

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The tree of `text`, or `nil` if the text is outside the subset (or not YAML at all).
    static func tree(of text: String) -> PolicyNodeTree? {
        var text = text
        return text.withUTF8 { buffer -> PolicyNodeTree? in
            guard acceptsEveryByte(buffer) else { return nil }
            var parser = PolicyFastParser(bytes: buffer)
            parser.reserveCollections()
            do throws(Unsupported) {
                let root = try parser.parseDocument()
                return PolicyNodeTree(
                    root: root, pairs: parser.pairs, items: parser.items,
                    mappingsCount: parser.mappingsCount, sequencesCount: parser.sequencesCount)
            } catch {
                return nil
            }
        }
    }

    /// Reserves room for every pair and item the text can hold, so that the two big arrays are
    /// never copied to grow (tens of megabytes each time, on a 100,000-key file). Every pair
    /// has its `:`, every item its `-`, `[` or `,`; the room past what is used is never written,
    /// so the system never backs it with memory.
    private mutating func reserveCollections() {
        let (colons, itemMarks) = Self.countEntryMarks(bytes)
        pairs.reserveCapacity(min(colons, Self.reservedEntriesMax))
        items.reserveCapacity(min(itemMarks, Self.reservedEntriesMax))
    }

    /// The number of `:` bytes, and of `-` `,` `[` bytes. Sixteen bytes a step, in byte-wide
    /// counters added up before they can wrap: a byte at a time took 3% of a 100,000-key parse.
    static func countEntryMarks(_ bytes: UnsafeBufferPointer<UInt8>) -> (colons: Int, itemMarks: Int) {
        typealias Lanes = SIMD16<UInt8>
        let laneCount = Lanes.scalarCount
        // Steps per batch: a byte-wide counter gains at most 1 a step, and holds at most 255.
        let stepsPerBatch = 255
        var colons = 0
        var itemMarks = 0
        var index = 0
        if let base = bytes.baseAddress {
            let raw = UnsafeRawPointer(base)
            let zero = Lanes(repeating: 0)
            let one = Lanes(repeating: 1)
            while index + laneCount <= bytes.count {
                var colonLanes = zero
                var markLanes = zero
                var steps = 0
                while steps < stepsPerBatch, index + laneCount <= bytes.count {
                    let chunk = raw.loadUnaligned(fromByteOffset: index, as: Lanes.self)
                    colonLanes &+= zero.replacing(with: one, where: chunk .== Lanes(repeating: colon))
                    let marks = chunk .== Lanes(repeating: dash) .| chunk .== Lanes(repeating: comma)
                        .| chunk .== Lanes(repeating: openBracket)
                    markLanes &+= zero.replacing(with: one, where: marks)
                    index += laneCount
                    steps += 1
                }
                colons += Int(SIMD16<UInt16>(truncatingIfNeeded: colonLanes).wrappedSum())
                itemMarks += Int(SIMD16<UInt16>(truncatingIfNeeded: markLanes).wrappedSum())
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == colon { colons += 1 }
            if byte == dash || byte == comma || byte == openBracket { itemMarks += 1 }
            index += 1
        }
        return (colons, itemMarks)
    }

    // MARK: - Bytes

    private static let space = UInt8(ascii: " ")
    private static let newline = UInt8(ascii: "\n")
    private static let hash = UInt8(ascii: "#")
    private static let colon = UInt8(ascii: ":")
    private static let comma = UInt8(ascii: ",")
    private static let dash = UInt8(ascii: "-")
    private static let dot = UInt8(ascii: ".")
    private static let singleQuote = UInt8(ascii: "'")
    private static let doubleQuote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
    private static let openBrace = UInt8(ascii: "{")
    private static let closeBrace = UInt8(ascii: "}")
    private static let openBracket = UInt8(ascii: "[")
    private static let closeBracket = UInt8(ascii: "]")

    /// Rejects what libyaml reads differently from a plain byte scan: control characters (tabs and
    /// carriage returns included: where they are allowed depends on context), DEL, C1 controls (NEL
    /// is a line break to libyaml), the line and paragraph separators, a byte order mark anywhere,
    /// and the non-characters U+FFFE and U+FFFF. The text is valid UTF-8 already.
    private static func acceptsEveryByte(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        // Eight bytes at a time while they are all printable ASCII (0x20 to 0x7E), the common case;
        // a word with any other byte (a line break included) is looked at byte by byte.
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let raw = bytes.baseAddress.map { UnsafeRawPointer($0) }
        while index < count {
            if let raw, index + 8 <= count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let belowSpace = (word &- ones &* 0x20) & ~word & highBits
                let aboveTilde = ((word &+ ones) | word) & highBits
                if belowSpace | aboveTilde == 0 {
                    index += 8
                    continue
                }
            }
            let byte = bytes[index]
            if byte >= 0x20 && byte < 0x7F || byte == newline {
                index += 1
                continue
            }
            if byte < 0x80 { return false }
            let next = index + 1 < count ? bytes[index + 1] : 0
            let afterNext = index + 2 < count ? bytes[index + 2] : 0
            switch byte {
            case 0xC2 where next < 0xA0: return false
            case 0xE2 where next == 0x80 && (afterNext == 0xA8 || afterNext == 0xA9): return false
            case 0xEF where next == 0xBB && afterNext == 0xBF: return false
            case 0xEF where next == 0xBF && (afterNext == 0xBE || afterNext == 0xBF): return false
            default: break
            }
            index += 1
        }
        return true
    }

    /// The byte at `offset`, or 0 past the end (the text holds no 0 byte: `acceptsEveryByte`).
    private func byte(at offset: Int) -> UInt8 {
        offset < bytes.count ? bytes[offset] : 0
    }

    private var current: UInt8 { byte(at: index) }
    private var atEnd: Bool { index >= bytes.count }

    /// Space, line break or end: what must follow `-` of a sequence entry and `:` of a block key.
    private func isBlankOrEnd(_ offset: Int) -> Bool {
        let value = byte(at: offset)
        return value == Self.space || value == Self.newline || value == 0
    }

    private static func isFlowIndicator(_ byte: UInt8) -> Bool {
        byte == comma || byte == openBracket || byte == closeBracket || byte == openBrace || byte == closeBrace
    }

    /// libyaml's mark for `offset` on the current line: 1-based, columns in Unicode scalars.
    private mutating func position(at offset: Int) -> SourcePosition {
        if columnOffset < lineStart || columnOffset > offset {
            columnOffset = lineStart
            column = 1
        }
        var scan = columnOffset
        while scan < offset {
            if bytes[scan] & 0xC0 != 0x80 { column += 1 }
            scan += 1
        }
        columnOffset = offset
        return SourcePosition(line: line, column: column)
    }

    // MARK: - Whitespace and comments

    /// Skips spaces and a comment up to (not over) the line break. A `#` right after a token with
    /// no space between is left to Yams.
    private mutating func skipInline() throws(Unsupported) {
        while current == Self.space { index += 1 }
        if current == Self.hash {
            guard index == lineStart || bytes[index - 1] == Self.space else { throw Unsupported() }
            while !atEnd && current != Self.newline { index += 1 }
        }
    }

    /// Skips the rest of the current line (which must hold nothing but a comment) and every blank
    /// or comment line after it, up to the first content byte or the end.
    private mutating func skipLines() throws(Unsupported) {
        while true {
            try skipInline()
            guard current == Self.newline else { return }
            index += 1
            line += 1
            lineStart = index
        }
    }

    /// After a scalar or flow collection in block context: only a comment may follow on its line.
    private mutating func finishLine() throws(Unsupported) {
        try skipInline()
        guard atEnd || current == Self.newline else { throw Unsupported() }
        try skipLines()
    }

    /// A document marker (`---` or `...` followed by a blank) at the start of a line.
    private func isDocumentMarker(at offset: Int) -> Bool {
        guard offset == lineStart else { return false }
        let first = byte(at: offset)
        guard first == Self.dash || first == Self.dot else { return false }
        return byte(at: offset + 1) == first && byte(at: offset + 2) == first && isBlankOrEnd(offset + 3)
    }

    // MARK: - Document

    private mutating func parseDocument() throws(Unsupported) -> PolicyNode {
        try skipLines()
        if isDocumentMarker(at: index) && current == Self.dash {
            index += 3
            try finishLine()
        }
        // An empty document has no root: the validator reports that through Yams.
        guard !atEnd else { throw Unsupported() }
        let root = try parseBlockNode(indent: index - lineStart, parentIndent: -1)
        // A scalar document is not a policy; the validator words that through Yams.
        if case .scalar = root { throw Unsupported() }
        guard atEnd else { throw Unsupported() }
        return root
    }

    // MARK: - Block context

    private mutating func enter() throws(Unsupported) {
        depth += 1
        guard depth <= Self.nestingLevelsMax else { throw Unsupported() }
    }

    /// A node starting at `index`, in column `indent` (counted in bytes: only spaces, `-` and
    /// spaces can precede it on its line). Returns at the first content byte of the line after
    /// the node, or at the end.
    private mutating func parseBlockNode(indent: Int, parentIndent: Int) throws(Unsupported) -> PolicyNode {
        if isDocumentMarker(at: index) { throw Unsupported() }
        if current == Self.dash && isBlankOrEnd(index + 1) {
            return try parseBlockSequence(indent: indent)
        }
        if current == Self.openBrace || current == Self.openBracket {
            let node = try parseFlowNode(blockIndent: parentIndent)
            try skipInline()
            if current == Self.colon { throw Unsupported() }
            try finishLine()
            return node
        }
        let keyStart = index
        let scalar = try parseScalar(inFlow: false)
        while current == Self.space { index += 1 }
        if current == Self.colon && isBlankOrEnd(index + 1) {
            guard index - keyStart <= Self.keyBytesMax else { throw Unsupported() }
            return try parseBlockMapping(indent: indent, firstKey: scalar)
        }
        try finishLine()
        return .scalar(scalar)
    }

    /// A block mapping whose first key has been read; `index` is at the `:` after it.
    private mutating func parseBlockMapping(indent: Int, firstKey: PolicyNode.Scalar) throws(Unsupported) -> PolicyNode {
        try enter()
        defer { depth -= 1 }
        let identity = mappingsCount
        mappingsCount += 1
        let pairsStart = pendingPairs.count
        var key = firstKey
        while true {
            index += 1  // the `:`
            let value = try parseMappingValue(indent: indent)
            pendingPairs.append((.scalar(key), value))
            if atEnd { break }
            let nextIndent = index - lineStart
            if nextIndent < indent { break }
            guard nextIndent == indent, !isDocumentMarker(at: index), !(current == Self.dash && isBlankOrEnd(index + 1)) else {
                throw Unsupported()
            }
            let keyStart = index
            key = try parseScalar(inFlow: false)
            while current == Self.space { index += 1 }
            guard current == Self.colon, isBlankOrEnd(index + 1), index - keyStart <= Self.keyBytesMax else { throw Unsupported() }
        }
        return .mapping(PolicyNode.Mapping(pairsRange: takePairs(from: pairsStart), position: firstKey.position, identity: identity))
    }

    /// The value after a block key's `:` (`index` is just past it).
    private mutating func parseMappingValue(indent: Int) throws(Unsupported) -> PolicyNode {
        // libyaml places an empty value at the end of the `:` token.
        let afterColon = position(at: index)
        try skipInline()
        if atEnd || current == Self.newline {
            try skipLines()
            let empty = PolicyNode.scalar(PolicyNode.Scalar(string: "", style: .plain, position: afterColon))
            if atEnd { return empty }
            let nextIndent = index - lineStart
            if nextIndent > indent {
                return try parseBlockNode(indent: nextIndent, parentIndent: indent)
            }
            if nextIndent == indent && current == Self.dash && isBlankOrEnd(index + 1) {
                // A sequence may sit at its key's own indentation.
                return try parseBlockSequence(indent: indent)
            }
            return empty
        }
        if current == Self.dash && isBlankOrEnd(index + 1) { throw Unsupported() }
        let node: PolicyNode
        if current == Self.openBrace || current == Self.openBracket {
            node = try parseFlowNode(blockIndent: indent)
        } else {
            node = .scalar(try parseScalar(inFlow: false))
        }
        try finishLine()
        return node
    }

    /// A block sequence whose first `-` is at `index`, in column `indent`.
    private mutating func parseBlockSequence(indent: Int) throws(Unsupported) -> PolicyNode {
        try enter()
        defer { depth -= 1 }
        let identity = sequencesCount
        sequencesCount += 1
        let start = position(at: index)
        let itemsStart = pendingItems.count
        while true {
            index += 1  // the `-`
            try skipInline()
            if atEnd || current == Self.newline {
                try skipLines()
                // An empty entry is left to Yams.
                guard !atEnd, index - lineStart > indent else { throw Unsupported() }
            }
            pendingItems.append(try parseBlockNode(indent: index - lineStart, parentIndent: indent))
            if atEnd { break }
            let nextIndent = index - lineStart
            if nextIndent < indent { break }
            guard nextIndent == indent else { throw Unsupported() }
            // At the same indentation, whatever is not an entry belongs to the parent mapping.
            guard current == Self.dash && isBlankOrEnd(index + 1) else { break }
            if isDocumentMarker(at: index) { throw Unsupported() }
        }
        return .sequence(PolicyNode.Sequence(itemsRange: takeItems(from: itemsStart), position: start, identity: identity))
    }

    /// Moves the pending pairs from `start` on to the end of `pairs`; returns where they now are.
    /// Stands in for a pair or item until the pending one is moved into its place.
    private static let placeholder = PolicyNode.alias(.start)

    /// Moved, not copied: `append(contentsOf:)` copies tuples through the runtime's generic copy
    /// and then `removeSubrange` releases the originals, a tenth of a 100,000-key parse. Room is
    /// made with placeholders, then each pending pair is moved out from the top into its place.
    private mutating func takePairs(from start: Int) -> Range<Int> {
        let first = pairs.count
        for _ in start..<pendingPairs.count {
            pairs.append((Self.placeholder, Self.placeholder))
        }
        var offset = pairs.count
        while pendingPairs.count > start {
            offset -= 1
            pairs[offset] = pendingPairs.removeLast()
        }
        return first..<pairs.count
    }

    private mutating func takeItems(from start: Int) -> Range<Int> {
        let first = items.count
        for _ in start..<pendingItems.count {
            items.append(Self.placeholder)
        }
        var offset = items.count
        while pendingItems.count > start {
            offset -= 1
            items[offset] = pendingItems.removeLast()
        }
        return first..<items.count
    }

    // MARK: - Flow context

    /// Skips spaces, line breaks and comments between flow tokens. A continuation line must be
    /// indented past the block that holds the collection, and must not look like a document marker.
    private mutating func skipFlowSpace(blockIndent: Int) throws(Unsupported) {
        while true {
            try skipInline()
            guard current == Self.newline else { return }
            index += 1
            line += 1
            lineStart = index
            var content = index
            while byte(at: content) == Self.space { content += 1 }
            let first = byte(at: content)
            if first == Self.newline || first == Self.hash || first == 0 { continue }
            guard content - lineStart > blockIndent, !(content == lineStart && (first == Self.dash || first == Self.dot)) else {
                throw Unsupported()
            }
        }
    }

    /// A flow collection or scalar inside a flow collection, or a flow collection in block context.
    private mutating func parseFlowNode(blockIndent: Int) throws(Unsupported) -> PolicyNode {
        if current == Self.openBrace { return try parseFlowMapping(blockIndent: blockIndent) }
        if current == Self.openBracket { return try parseFlowSequence(blockIndent: blockIndent) }
        return .scalar(try parseScalar(inFlow: true))
    }

    private mutating func parseFlowMapping(blockIndent: Int) throws(Unsupported) -> PolicyNode {
        try enter()
        defer { depth -= 1 }
        let identity = mappingsCount
        mappingsCount += 1
        let start = position(at: index)
        index += 1  // the `{`
        try skipFlowSpace(blockIndent: blockIndent)
        if current == Self.closeBrace {
            index += 1
            return .mapping(PolicyNode.Mapping(pairsRange: pairs.count..<pairs.count, position: start, identity: identity))
        }
        let pairsStart = pendingPairs.count
        while true {
            let keyStart = index
            let key = try parseScalar(inFlow: true)
            while current == Self.space { index += 1 }
            guard current == Self.colon, index - keyStart <= Self.keyBytesMax else { throw Unsupported() }
            index += 1
            try skipFlowSpace(blockIndent: blockIndent)
            // An empty value is left to Yams.
            guard current != Self.comma, current != Self.closeBrace, current != Self.closeBracket, !atEnd else { throw Unsupported() }
            let value = try parseFlowNode(blockIndent: blockIndent)
            pendingPairs.append((.scalar(key), value))
            try skipFlowSpace(blockIndent: blockIndent)
            if current == Self.comma {
                index += 1
                try skipFlowSpace(blockIndent: blockIndent)
                // A trailing comma is left to Yams.
                if current == Self.closeBrace { throw Unsupported() }
                continue
            }
            guard current == Self.closeBrace else { throw Unsupported() }
            index += 1
            return .mapping(PolicyNode.Mapping(pairsRange: takePairs(from: pairsStart), position: start, identity: identity))
        }
    }

    private mutating func parseFlowSequence(blockIndent: Int) throws(Unsupported) -> PolicyNode {
        try enter()
        defer { depth -= 1 }
        let identity = sequencesCount
        sequencesCount += 1
        let start = position(at: index)
        index += 1  // the `[`
        try skipFlowSpace(blockIndent: blockIndent)
        if current == Self.closeBracket {
            index += 1
            return .sequence(PolicyNode.Sequence(itemsRange: items.count..<items.count, position: start, identity: identity))
        }
        let itemsStart = pendingItems.count
        while true {
            guard current != Self.comma, current != Self.closeBrace, !atEnd else { throw Unsupported() }
            pendingItems.append(try parseFlowNode(blockIndent: blockIndent))
            try skipFlowSpace(blockIndent: blockIndent)
            if current == Self.comma {
                index += 1
                try skipFlowSpace(blockIndent: blockIndent)
                if current == Self.closeBracket { throw Unsupported() }
                continue
            }
            // A `key: value` pair inside a sequence (a single-pair mapping) is left to Yams.
            guard current == Self.closeBracket else { throw Unsupported() }
            index += 1
            return .sequence(PolicyNode.Sequence(itemsRange: takeItems(from: itemsStart), position: start, identity: identity))
        }
    }

    // MARK: - Scalars

    /// A plain, single- or double-quoted scalar on one line.
    private mutating func parseScalar(inFlow: Bool) throws(Unsupported) -> PolicyNode.Scalar {
        switch current {
        case Self.singleQuote: return try parseSingleQuoted()
        case Self.doubleQuote: return try parseDoubleQuoted()
        default: return try parsePlain(inFlow: inFlow)
        }
    }

    /// The bytes that cannot start a plain scalar (`-` can, before a letter, digit or dot).
    private static func isIndicator(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "#"), UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"),
             UInt8(ascii: "|"), UInt8(ascii: ">"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "%"), UInt8(ascii: "@"),
             UInt8(ascii: "`"), UInt8(ascii: " "), UInt8(ascii: "\n"), 0:
            return true
        default:
            return false
        }
    }

    private static func isAlphanumericOrDot(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == dot
    }

    /// A plain scalar ends at a line break, at ` #`, at `: ` (or `:` before the line's end), and in
    /// flow context at `,` `[` `]` `{` `}`; spaces before the end are not part of it. (libyaml's
    /// `scan_plain_scalar` in the Yams copy is the reference.)
    private mutating func parsePlain(inFlow: Bool) throws(Unsupported) -> PolicyNode.Scalar {
        let first = current
        if Self.isIndicator(first) && !(first == Self.dash && Self.isAlphanumericOrDot(byte(at: index + 1))) {
            throw Unsupported()
        }
        if isDocumentMarker(at: index) || (index == lineStart && first == Self.dot && byte(at: index + 1) == Self.dot) {
            throw Unsupported()
        }
        let start = index
        let mark = position(at: start)
        while !atEnd {
            let value = current
            if value == Self.newline { break }
            if value == Self.space {
                var next = index + 1
                while byte(at: next) == Self.space { next += 1 }
                let after = byte(at: next)
                if after == Self.newline || after == 0 || after == Self.hash { break }
                if after == Self.colon && isBlankOrEnd(next + 1) { break }
                if inFlow && Self.isFlowIndicator(after) { break }
                index = next
                continue
            }
            if value == Self.colon {
                if isBlankOrEnd(index + 1) { break }
                // libyaml rejects `:` before `,` `?` `[` `]` `{` `}` in flow context; before
                // anything else it is part of the scalar (`2027-06-30T00:00:00Z`).
                if inFlow {
                    let next = byte(at: index + 1)
                    if Self.isFlowIndicator(next) || next == UInt8(ascii: "?") { throw Unsupported() }
                }
            } else if inFlow && Self.isFlowIndicator(value) {
                break
            }
            index += 1
        }
        guard index > start else { throw Unsupported() }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return PolicyNode.Scalar(string: text, style: .plain, position: mark)
    }

    /// `'...'` with `''` for a quote, on one line.
    private mutating func parseSingleQuoted() throws(Unsupported) -> PolicyNode.Scalar {
        let mark = position(at: index)
        index += 1
        let start = index
        var unescaped: [UInt8]? = nil
        while true {
            guard !atEnd, current != Self.newline else { throw Unsupported() }
            if current == Self.singleQuote {
                if byte(at: index + 1) != Self.singleQuote { break }
                if unescaped == nil { unescaped = Array(bytes[start..<index]) }
                unescaped?.append(Self.singleQuote)
                index += 2
                continue
            }
            unescaped?.append(current)
            index += 1
        }
        return try finishQuoted(from: start, unescaped: unescaped, style: .singleQuoted, position: mark)
    }

    /// `"..."` with YAML's escapes, on one line.
    private mutating func parseDoubleQuoted() throws(Unsupported) -> PolicyNode.Scalar {
        let mark = position(at: index)
        index += 1
        let start = index
        var unescaped: [UInt8]? = nil
        while true {
            guard !atEnd, current != Self.newline else { throw Unsupported() }
            let value = current
            if value == Self.doubleQuote { break }
            if value == Self.backslash {
                if unescaped == nil { unescaped = Array(bytes[start..<index]) }
                index += 1
                let scalar = try escapedScalar()
                unescaped?.append(contentsOf: String(Character(scalar)).utf8)
                continue
            }
            unescaped?.append(value)
            index += 1
        }
        return try finishQuoted(from: start, unescaped: unescaped, style: .doubleQuoted, position: mark)
    }

    /// The scalar of a quoted run that ends at `index` (its closing quote): the source bytes as
    /// they are when nothing was escaped, else the unescaped copy.
    private mutating func finishQuoted(
        from start: Int, unescaped: [UInt8]?, style: PolicyNode.Style, position mark: SourcePosition
    ) throws(Unsupported) -> PolicyNode.Scalar {
        let text = unescaped.map { String(decoding: $0, as: UTF8.self) }
            ?? String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        index += 1  // the closing quote
        try checkAfterQuoted()
        return PolicyNode.Scalar(string: text, style: style, position: mark)
    }

    /// The scalar an escape stands for; `index` is just past the backslash. Escapes that Yams
    /// versions read differently (`\/`, `\'`), line continuations, and those that yield U+0000
    /// (Yams reads scalars as C strings) are left to Yams.
    private mutating func escapedScalar() throws(Unsupported) -> Unicode.Scalar {
        let letter = current
        index += 1
        let digits: Int
        switch letter {
        case UInt8(ascii: "a"): return "\u{07}"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "v"): return "\u{0B}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"): return "\u{1B}"
        case UInt8(ascii: " "): return " "
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "N"): return "\u{85}"
        case UInt8(ascii: "_"): return "\u{A0}"
        case UInt8(ascii: "L"): return "\u{2028}"
        case UInt8(ascii: "P"): return "\u{2029}"
        case UInt8(ascii: "x"): digits = 2
        case UInt8(ascii: "u"): digits = 4
        case UInt8(ascii: "U"): digits = 8
        default: throw Unsupported()
        }
        var value: UInt32 = 0
        for _ in 0..<digits {
            let digit = current
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: throw Unsupported()
            }
            value = value << 4 | UInt32(nibble)
            index += 1
        }
        guard value != 0, let scalar = Unicode.Scalar(value) else { throw Unsupported() }
        return scalar
    }

    /// What may follow a closing quote: a space, the line's end, `:`, or a flow indicator.
    private func checkAfterQuoted() throws(Unsupported) {
        let next = current
        guard next == Self.space || next == Self.newline || next == 0 || next == Self.colon || Self.isFlowIndicator(next) else {
            throw Unsupported()
        }
    }
}
