/// A tree of `PolicyNode`s with the number of distinct mappings and sequences it holds.
struct PolicyNodeTree {
    var root: PolicyNode?
    var mappingsCount: Int
    var sequencesCount: Int
}
