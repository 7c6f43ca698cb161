import Yams

/// Converts a Yams node tree into `PolicyNode`s, so the validator has one input type.
///
/// Mappings and sequences are numbered by position, as the validator used to tell them apart, and
/// an anchored one is converted once: its aliases then share the converted node instead of
/// expanding it again (a document of nested aliases would otherwise grow exponentially).
struct YamsNodeConverter {
    /// See `PolicyDocument.plainScalarsUnresolved`.
    let plainScalarsUnresolved: Bool
    private var mappingIdentities: [SourcePosition: Int] = [:]
    private var sequenceIdentities: [SourcePosition: Int] = [:]
    private var anchored: [SourcePosition: PolicyNode] = [:]
    /// The pairs and items of the collections converted so far (see `PolicyNodeTree`).
    private var pairs: [(key: PolicyNode, value: PolicyNode)] = []
    private var items: [PolicyNode] = []

    init(plainScalarsUnresolved: Bool) {
        self.plainScalarsUnresolved = plainScalarsUnresolved
    }

    static func tree(_ root: Node?, plainScalarsUnresolved: Bool) -> PolicyNodeTree {
        var converter = YamsNodeConverter(plainScalarsUnresolved: plainScalarsUnresolved)
        let converted = root.map { converter.convert($0) }
        return PolicyNodeTree(
            root: converted, pairs: converter.pairs, items: converter.items,
            mappingsCount: converter.mappingIdentities.count, sequencesCount: converter.sequenceIdentities.count)
    }

    mutating func convert(_ node: Node) -> PolicyNode {
        let position = SourcePosition(node)
        switch node {
        case .scalar(let scalar):
            let style = Self.style(scalar.style)
            // Without implicit resolution, Yams reports plain scalars as strings: leave those for
            // `PlainScalarTag`, as the validator always did.
            let tag: PolicyScalarTag = plainScalarsUnresolved && style == .plain
                ? .implicit : PolicyScalarTag(Tag.Name(rawValue: node.tag.rawValue))
            return .scalar(PolicyNode.Scalar(string: scalar.string, style: style, tag: tag, position: position))
        case .mapping(let mapping):
            if node.anchor != nil, let done = anchored[position], case .mapping = done { return done }
            let identity = Self.identity(of: position, in: &mappingIdentities)
            // Nested collections append their own pairs while this one's are converted: collect
            // these apart, then store them side by side.
            var converting: [(key: PolicyNode, value: PolicyNode)] = []
            converting.reserveCapacity(mapping.count)
            for (key, value) in mapping {
                converting.append((convert(key), convert(value)))
            }
            let start = pairs.count
            pairs.append(contentsOf: converting)
            let converted = PolicyNode.mapping(PolicyNode.Mapping(pairsRange: start..<pairs.count, position: position, identity: identity))
            if node.anchor != nil { anchored[position] = converted }
            return converted
        case .sequence(let sequence):
            if node.anchor != nil, let done = anchored[position], case .sequence = done { return done }
            let identity = Self.identity(of: position, in: &sequenceIdentities)
            var converting: [PolicyNode] = []
            converting.reserveCapacity(sequence.count)
            for item in sequence {
                converting.append(convert(item))
            }
            let start = items.count
            items.append(contentsOf: converting)
            let converted = PolicyNode.sequence(PolicyNode.Sequence(itemsRange: start..<items.count, position: position, identity: identity))
            if node.anchor != nil { anchored[position] = converted }
            return converted
        case .alias:
            return .alias(position)
        }
    }

    private static func identity(of position: SourcePosition, in identities: inout [SourcePosition: Int]) -> Int {
        if let identity = identities[position] { return identity }
        let identity = identities.count
        identities[position] = identity
        return identity
    }

    private static func style(_ style: Node.Scalar.Style) -> PolicyNode.Style {
        switch style {
        case .any: return .any
        case .plain: return .plain
        case .singleQuoted: return .singleQuoted
        case .doubleQuoted: return .doubleQuoted
        case .literal: return .literal
        case .folded: return .folded
        }
    }
}
