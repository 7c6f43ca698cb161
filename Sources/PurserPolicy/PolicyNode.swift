import Yams

/// A composed policy document node: what the validator walks, whichever parser built it.
///
/// Two parsers build these trees: `PolicyFastParser` for the plain YAML and JSON that policy files
/// are written in, and `YamsNodeConverter` from a Yams tree for everything else. Both must build
/// the same tree for the same text (same strings, styles, key order and positions);
/// `PolicyFastParserTests` checks that they do.
enum PolicyNode: Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)
    /// Yams resolves aliases while composing, so this only stands for one it left unresolved.
    case alias(SourcePosition)

    /// How a scalar was written; `any` is what Yams reports for a scalar of unknown style.
    enum Style: UInt8, Sendable {
        case any, plain, singleQuoted, doubleQuoted, literal, folded
    }

    /// A scalar in 32 bytes: its text, its position as two 32-bit numbers (the file is at most
    /// `PolicyLimits.policyFileBytesMax` bytes), its style and its tag.
    struct Scalar: Sendable {
        var string: String
        fileprivate var line: UInt32
        fileprivate var column: UInt32
        var style: Style
        var tag: PolicyScalarTag


        var position: SourcePosition {
            get { SourcePosition(line: Int(line), column: Int(column)) }
            set {
                line = UInt32(clamping: newValue.line)
                column = UInt32(clamping: newValue.column)
            }
        }

        /// The YAML 1.1 tag the scalar resolves to.
        var resolvedTag: Tag.Name {
            if tag != .implicit { return tag.name }
            return style == .plain ? PlainScalarTag.of(string) : .str
        }
    }

    /// Its pairs are `PolicyNodeTree.pairs[pairsRange]`: one array per tree rather than one per
    /// mapping (a 100,000-key file has hundreds of thousands of collections). Range, position and
    /// identity in 32-bit numbers, so that a node takes 32 bytes whatever its kind.
    struct Mapping: Sendable {
        fileprivate var pairsStart: UInt32
        fileprivate var pairsCount: UInt32
        fileprivate var line: UInt32
        fileprivate var column: UInt32
        fileprivate var storedIdentity: Int32

        /// Numbers the distinct mappings of one tree from 0, so the validator can mark the ones it
        /// checked in an array instead of a set (an aliased mapping has one number for all its uses).
        var identity: Int { Int(storedIdentity) }

        /// Where its pairs are in `PolicyNodeTree.pairs`.
        var pairsRange: Range<Int> { Int(pairsStart)..<Int(pairsStart) + Int(pairsCount) }

        var position: SourcePosition {
            get { SourcePosition(line: Int(line), column: Int(column)) }
            set {
                line = UInt32(clamping: newValue.line)
                column = UInt32(clamping: newValue.column)
            }
        }
    }

    /// Its items are `PolicyNodeTree.items[itemsRange]`, like `Mapping.pairsRange`; range,
    /// position and identity in 32-bit numbers, like `Mapping`.
    struct Sequence: Sendable {
        fileprivate var itemsStart: UInt32
        fileprivate var itemsCount: UInt32
        fileprivate var line: UInt32
        fileprivate var column: UInt32
        fileprivate var storedIdentity: Int32

        /// Numbers the distinct sequences of one tree from 0, like `Mapping.identity`.
        var identity: Int { Int(storedIdentity) }

        /// Where its items are in `PolicyNodeTree.items`.
        var itemsRange: Range<Int> { Int(itemsStart)..<Int(itemsStart) + Int(itemsCount) }

        var position: SourcePosition {
            get { SourcePosition(line: Int(line), column: Int(column)) }
            set {
                line = UInt32(clamping: newValue.line)
                column = UInt32(clamping: newValue.column)
            }
        }
    }

    var position: SourcePosition {
        switch self {
        case .scalar(let scalar): return scalar.position
        case .mapping(let mapping): return mapping.position
        case .sequence(let sequence): return sequence.position
        case .alias(let position): return position
        }
    }
}

extension PolicyNode.Scalar {
    init(string: String, style: PolicyNode.Style, tag: PolicyScalarTag = .implicit, position: SourcePosition) {
        self.string = string
        self.line = UInt32(clamping: position.line)
        self.column = UInt32(clamping: position.column)
        self.style = style
        self.tag = tag
    }
}

extension PolicyNode.Mapping {
    /// `pairsRange` must lie in the tree's pairs, which hold fewer than 2^32 (the file is at most
    /// `PolicyLimits.policyFileBytesMax` bytes, and every pair takes some).
    init(pairsRange: Range<Int>, position: SourcePosition, identity: Int) {
        self.pairsStart = UInt32(clamping: pairsRange.lowerBound)
        self.pairsCount = UInt32(clamping: pairsRange.count)
        self.line = UInt32(clamping: position.line)
        self.column = UInt32(clamping: position.column)
        self.storedIdentity = Int32(clamping: identity)
    }
}

extension PolicyNode.Sequence {
    /// `itemsRange` must lie in the tree's items, like `PolicyNode.Mapping.pairsRange`.
    init(itemsRange: Range<Int>, position: SourcePosition, identity: Int) {
        self.itemsStart = UInt32(clamping: itemsRange.lowerBound)
        self.itemsCount = UInt32(clamping: itemsRange.count)
        self.line = UInt32(clamping: position.line)
        self.column = UInt32(clamping: position.column)
        self.storedIdentity = Int32(clamping: identity)
    }
}
