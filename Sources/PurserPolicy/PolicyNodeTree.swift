/// A tree of `PolicyNode`s: the root, and the pairs and items of all its collections.
///
/// Every mapping's pairs sit side by side in `pairs` and every sequence's items in `items`, each
/// collection naming its range: two arrays per tree instead of one per collection, which a
/// 100,000-key file has hundreds of thousands of (each an allocation, a retain and a release).
struct PolicyNodeTree {
    var root: PolicyNode?
    var pairs: [(key: PolicyNode, value: PolicyNode)]
    var items: [PolicyNode]
    /// The number of distinct mappings and sequences (see `PolicyNode.Mapping.identity`).
    var mappingsCount: Int
    var sequencesCount: Int

    func pairs(of mapping: PolicyNode.Mapping) -> ArraySlice<(key: PolicyNode, value: PolicyNode)> {
        pairs[mapping.pairsRange]
    }

    func items(of sequence: PolicyNode.Sequence) -> ArraySlice<PolicyNode> {
        items[sequence.itemsRange]
    }
}
