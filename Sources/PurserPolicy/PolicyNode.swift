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
        fileprivate var packedPosition: PackedPosition
        var style: Style
        var tag: PolicyScalarTag

        var position: SourcePosition {
            get { packedPosition.position }
            set { packedPosition = PackedPosition(newValue) }
        }

        /// The YAML 1.1 tag the scalar resolves to.
        var resolvedTag: Tag.Name {
            if tag != .implicit { return tag.name }
            return style == .plain ? PlainScalarTag.of(string) : .str
        }
    }

    /// Its pairs are `PolicyNodeTree.pairs[pairsRange]`: one array per tree rather than one per
    /// mapping (a 100,000-key file has hundreds of thousands of collections).
    struct Mapping: Sendable {
        fileprivate var layout: CollectionLayout

        /// Numbers the distinct mappings of one tree from 0, so the validator can mark the ones it
        /// checked in an array instead of a set (an aliased mapping has one number for all its uses).
        var identity: Int { layout.identity }

        /// Where its pairs are in `PolicyNodeTree.pairs`.
        var pairsRange: Range<Int> { layout.range }

        var position: SourcePosition {
            get { layout.position }
            set { layout.position = newValue }
        }
    }

    /// Its items are `PolicyNodeTree.items[itemsRange]`, like `Mapping.pairsRange`.
    struct Sequence: Sendable {
        fileprivate var layout: CollectionLayout

        /// Numbers the distinct sequences of one tree from 0, like `Mapping.identity`.
        var identity: Int { layout.identity }

        /// Where its items are in `PolicyNodeTree.items`.
        var itemsRange: Range<Int> { layout.range }

        var position: SourcePosition {
            get { layout.position }
            set { layout.position = newValue }
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
        self.packedPosition = PolicyNode.PackedPosition(position)
        self.style = style
        self.tag = tag
    }
}

extension PolicyNode.Mapping {
    /// `pairsRange` must lie in the tree's pairs, which hold fewer than 2^32 (the file is at most
    /// `PolicyLimits.policyFileBytesMax` bytes, and every pair takes some).
    init(pairsRange: Range<Int>, position: SourcePosition, identity: Int) {
        self.layout = PolicyNode.CollectionLayout(range: pairsRange, position: position, identity: identity)
    }
}

extension PolicyNode.Sequence {
    /// `itemsRange` must lie in the tree's items, like `PolicyNode.Mapping.pairsRange`.
    init(itemsRange: Range<Int>, position: SourcePosition, identity: Int) {
        self.layout = PolicyNode.CollectionLayout(range: itemsRange, position: position, identity: identity)
    }
}

extension PolicyNode {
    /// A `SourcePosition` in two 32-bit numbers (the file is at most `PolicyLimits.policyFileBytesMax`
    /// bytes), so that every node fits in 32 bytes whatever its kind.
    struct PackedPosition: Sendable {
        private var line: UInt32
        private var column: UInt32

        init(_ position: SourcePosition) {
            line = UInt32(clamping: position.line)
            column = UInt32(clamping: position.column)
        }

        var position: SourcePosition { SourcePosition(line: Int(line), column: Int(column)) }
    }

    /// What a mapping and a sequence both are: a run of their tree's shared array (pairs or items),
    /// a position and an identity, in 32-bit numbers.
    struct CollectionLayout: Sendable {
        private var start: UInt32
        private var count: UInt32
        private var packedPosition: PackedPosition
        private var storedIdentity: Int32

        init(range: Range<Int>, position: SourcePosition, identity: Int) {
            start = UInt32(clamping: range.lowerBound)
            count = UInt32(clamping: range.count)
            packedPosition = PackedPosition(position)
            storedIdentity = Int32(clamping: identity)
        }

        var range: Range<Int> { Int(start)..<Int(start) + Int(count) }
        var identity: Int { Int(storedIdentity) }

        var position: SourcePosition {
            get { packedPosition.position }
            set { packedPosition = PackedPosition(newValue) }
        }
    }
}
