import Yams

/// Walks a composed policy document, builds the `Policy` and collects every problem on the way.
///
/// Nothing stops at the first problem: each field is checked on its own, an entry with problems is
/// left out of the result, and cross-references are checked against every name that appears in the
/// file (valid or not), so that one mistake does not cascade into a page of follow-on problems.
final class PolicyValidator {
    private let restoredKeys: [SourcePosition: String]
    private(set) var problems: [(position: SourcePosition, message: String)] = []
    /// Mappings whose keys were already checked for repeats in the words of their own schema,
    /// indexed by `PolicyNode.Mapping.identity`.
    private var checkedMappings: [Bool]
    private var checkedMappingsCount = 0
    /// The tree the nodes belong to: it holds the pairs and items of their collections.
    private let tree: PolicyNodeTree

    /// Validates a whole tree.
    init(tree: PolicyNodeTree, restoredKeys: [SourcePosition: String] = [:]) {
        self.tree = tree
        self.restoredKeys = restoredKeys
        self.checkedMappings = Array(repeating: false, count: tree.mappingsCount)
    }

    // MARK: - Reporting

    func report(_ node: PolicyNode, _ message: String) {
        problems.append((node.position, message))
    }

    func report(at position: SourcePosition, _ message: String) {
        problems.append((position, message))
    }

    // MARK: - Field names

    static let topLevelFields = ["version", "defaults", "prices", "plans", "tenants", "keys", "tags"]
    static let defaultsFields = ["reservation_ttl", "reservation_retention", "ledger_retention", "on_store_error"]
    static let priceFields = ["input", "output"]
    static let planFields = ["models", "rate_limits", "budgets"]
    static let tenantFields = ["name", "plan", "budgets", "prepaid", "rate_limits", "tags"]
    static let keyFields = [
        "id", "tenant", "sha256", "default_tag", "rate_limits", "budgets", "models", "expires_at", "disabled",
        "previous_sha256", "previous_valid_until",
    ]
    static let tagFields = ["budgets"]
    static let rateLimitFields = ["rpm", "tpm", "max_inflight"]
    static let budgetFields = ["period", "cap_micros"]

    // MARK: - Cross-reference records, checked after the walk

    private struct Reference {
        var name: String
        var position: SourcePosition
        var owner: String
    }

    private struct PatternUse {
        var pattern: ModelPattern
        var position: SourcePosition
        var owner: String
    }

    private struct HashUse {
        var hash: KeyHash
        var field: String
        var position: SourcePosition
        var owner: String
    }

    private var planReferences: [Reference] = []
    private var tenantReferences: [Reference] = []
    private var patternUses: [PatternUse] = []
    private var keyIDs: [Reference] = []
    private var hashUses: [(current: HashUse?, previous: HashUse?)] = []

    // MARK: - Entry point

    /// The policy, or `nil` if any problem was found (`problems` then holds them all).
    func validate(_ root: PolicyNode?) -> Policy? {
        let policy = walk(root)
        // Every mapping the schema reached had its keys checked already; walk the tree only when
        // some were not (they sit inside values of the wrong type, so there are problems anyway).
        if let root, checkedMappingsCount < checkedMappings.count { checkRemainingDuplicates(root) }
        return problems.isEmpty ? policy : nil
    }

    private func walk(_ root: PolicyNode?) -> Policy? {
        guard let root else {
            report(at: .start, "missing required field \"version\" at top level")
            return nil
        }
        guard case .mapping = root else {
            report(root, "the policy must be a mapping with fields such as \"version\", \"plans\", \"tenants\" and \"keys\", got \(describe(root))")
            return nil
        }
        let top = fields(root, allowed: Self.topLevelFields, in: nil)
        var policy = Policy()

        if let version = require(top, "version", in: nil, at: root),
           let number = integer(version, subject: field("version", in: nil), range: nil), number != 1 {
            report(version, "unsupported version \(number) (this version of Purser reads version 1)")
        }
        if let defaults = section(top, "defaults") {
            policy.defaults = parseDefaults(defaults.value)
        }

        let priceNames = namedSection(top, "prices", what: "prices", countLimit: PolicyLimits.pricesCountMax, into: &policy.prices) {
            "duplicate price for model \(PolicyText.quoted($0))"
        } parse: { parsePrice($0) }
        let planNames = namedSection(top, "plans", what: "plans", countLimit: PolicyLimits.plansCountMax, into: &policy.plans) {
            "duplicate plan \(PolicyText.quoted($0))"
        } parse: { parsePlan($0) }
        let tenantNames = namedSection(top, "tenants", what: "tenants", countLimit: PolicyLimits.tenantsCountMax, into: &policy.tenants) {
            "duplicate tenant \(PolicyText.quoted($0))"
        } parse: { parseTenant($0) }

        if let keysEntry = top.entry("keys"), !isNull(keysEntry.value),
           let keys = list(keysEntry.value, subject: field("keys", in: nil)) {
            if keys.count > PolicyLimits.keysCountMax {
                report(keysEntry.key, "too many keys: \(keys.count) (limit \(PolicyLimits.keysCountMax))")
            }
            policy.keys.reserveCapacity(keys.count)
            keyIDs.reserveCapacity(keys.count)
            tenantReferences.reserveCapacity(keys.count)
            hashUses.reserveCapacity(keys.count)
            for (offset, item) in keys.enumerated() {
                if let key = parseKey(item, number: offset + 1) { policy.keys.append(key) }
            }
        }

        if let tags = section(top, "tags") {
            let entries = collection(tags.value, what: "account tags", countLimit: PolicyLimits.accountTagsCountMax, countAt: tags.key) {
                "duplicate account tag \(PolicyText.quoted($0))"
            }
            for entry in entries {
                if !Identifier.isValid(entry.name) {
                    report(entry.key, "account tag name \(PolicyText.quoted(entry.name)) is invalid: \(Self.identifierRule)")
                }
                if let tag = parseTag(entry, owner: "account tag \(PolicyText.quoted(entry.name))") {
                    policy.tags[entry.name] = tag
                }
            }
        }

        checkReferences(planNames: planNames, tenantNames: tenantNames, priceNames: priceNames)
        return policy
    }

    // MARK: - Sections

    private func parseDefaults(_ node: PolicyNode) -> PolicyDefaults {
        let scope = "defaults"
        var defaults = PolicyDefaults()
        let table = fields(node, allowed: Self.defaultsFields, in: scope)
        if let value = table["reservation_ttl"],
           let seconds = duration(value, subject: field("reservation_ttl", in: scope),
                                  range: PolicyLimits.reservationTTLSecondsMin...PolicyLimits.reservationTTLSecondsMax) {
            defaults.reservationTTLSeconds = seconds
        }
        if let value = table["reservation_retention"],
           let seconds = duration(value, subject: field("reservation_retention", in: scope),
                                  range: 0...PolicyLimits.reservationRetentionSecondsMax) {
            defaults.reservationRetentionSeconds = seconds
        }
        if let value = table["ledger_retention"],
           let seconds = duration(value, subject: field("ledger_retention", in: scope),
                                  range: PolicyLimits.ledgerRetentionSecondsMin...PolicyLimits.ledgerRetentionSecondsMax) {
            defaults.ledgerRetentionSeconds = seconds
        }
        if let value = table["on_store_error"], let text = string(value, subject: field("on_store_error", in: scope)) {
            if let mode = StoreErrorPolicy(rawValue: text) {
                defaults.onStoreError = mode
            } else {
                let names = StoreErrorPolicy.allCases.map(\.rawValue)
                report(value, "field \"on_store_error\" in \(scope) must be one of \(names.joined(separator: ", ")), got \(PolicyText.quoted(text))"
                    + PolicyText.suggestion(for: text, among: names))
            }
        }
        return defaults
    }

    private func parsePrice(_ entry: Entry) -> ModelPrice? {
        var valid = true
        if !Identifier.isValid(entry.name) {
            report(entry.key, "model name \(PolicyText.quoted(entry.name)) in prices is invalid: \(Self.identifierRule)")
            valid = false
        }
        let owner = "price \(PolicyText.quoted(entry.name))"
        guard mapping(entry.value, subject: owner) else { return nil }
        let table = fields(entry.value, allowed: Self.priceFields, in: owner)
        let range = 0...PolicyLimits.priceMicrosPerMillionTokensMax
        let input = require(table, "input", in: owner, at: entry.key).flatMap {
            integer($0, subject: field("input", in: owner), range: range)
        }
        let output = require(table, "output", in: owner, at: entry.key).flatMap {
            integer($0, subject: field("output", in: owner), range: range)
        }
        guard valid, let input, let output else { return nil }
        return ModelPrice(inputMicrosPerMillionTokens: input, outputMicrosPerMillionTokens: output)
    }

    private func parsePlan(_ entry: Entry) -> Plan? {
        var valid = true
        if !Identifier.isValid(entry.name) {
            report(entry.key, "plan id \(PolicyText.quoted(entry.name)) is invalid: \(Self.identifierRule)")
            valid = false
        }
        let owner = "plan \(PolicyText.quoted(entry.name))"
        guard mapping(entry.value, subject: owner) else { return nil }
        let table = fields(entry.value, allowed: Self.planFields, in: owner)
        var plan = Plan(id: entry.name, models: [])
        if let value = require(table, "models", in: owner, at: entry.key) {
            if let models = modelPatterns(value, owner: owner) { plan.models = models } else { valid = false }
        } else {
            valid = false
        }
        if let value = table["rate_limits"] {
            if let limits = rateLimits(value, owner: owner) { plan.rateLimits = limits } else { valid = false }
        }
        if let value = table["budgets"] {
            if let budgets = budgets(value, owner: owner) { plan.budgets = budgets } else { valid = false }
        }
        return valid ? plan : nil
    }

    private func parseTenant(_ entry: Entry) -> Tenant? {
        var valid = true
        if !Identifier.isValid(entry.name) {
            report(entry.key, "tenant id \(PolicyText.quoted(entry.name)) is invalid: \(Self.identifierRule)")
            valid = false
        }
        let owner = "tenant \(PolicyText.quoted(entry.name))"
        guard mapping(entry.value, subject: owner) else { return nil }
        let table = fields(entry.value, allowed: Self.tenantFields, in: owner)
        var tenant = Tenant(id: entry.name, name: entry.name, plan: "")

        if let value = table["name"] {
            if let name = displayName(value, subject: field("name", in: owner)) { tenant.name = name } else { valid = false }
        }
        if let value = require(table, "plan", in: owner, at: entry.key),
           let plan = string(value, subject: field("plan", in: owner)) {
            tenant.plan = plan
            planReferences.append(Reference(name: plan, position: value.position, owner: owner))
        } else {
            valid = false
        }
        if let value = table["budgets"] {
            if let budgets = budgets(value, owner: owner) { tenant.budgets = budgets } else { valid = false }
        }
        if let value = table["prepaid"] {
            if let prepaid = boolean(value, subject: field("prepaid", in: owner)) { tenant.prepaid = prepaid } else { valid = false }
        }
        if let value = table["rate_limits"] {
            if let limits = rateLimits(value, owner: owner) { tenant.rateLimits = limits } else { valid = false }
        }
        if let tagsEntry = table.entry("tags") {
            if mapping(tagsEntry.value, subject: field("tags", in: owner)) {
                let entries = collection(
                    tagsEntry.value, what: "tags in \(owner)", countLimit: PolicyLimits.tenantTagsCountMax, countAt: tagsEntry.key
                ) {
                    "duplicate tag \(PolicyText.quoted($0)) in \(owner)"
                }
                for tagEntry in entries {
                    if !Identifier.isValid(tagEntry.name) {
                        report(tagEntry.key, "tag name \(PolicyText.quoted(tagEntry.name)) in \(owner) is invalid: \(Self.identifierRule)")
                        valid = false
                    }
                    if let tag = parseTag(tagEntry, owner: "tag \(PolicyText.quoted(tagEntry.name)) of \(owner)") {
                        tenant.tags[tagEntry.name] = tag
                    } else {
                        valid = false
                    }
                }
            } else {
                valid = false
            }
        }
        return valid ? tenant : nil
    }

    private func parseTag(_ entry: Entry, owner: String) -> TagPolicy? {
        guard mapping(entry.value, subject: owner) else { return nil }
        let table = fields(entry.value, allowed: Self.tagFields, in: owner)
        guard let value = require(table, "budgets", in: owner, at: entry.key),
              let budgets = budgets(value, owner: owner)
        else { return nil }
        return TagPolicy(budgets: budgets)
    }

    private func parseKey(_ node: PolicyNode, number: Int) -> KeyPolicy? {
        guard mapping(node, subject: "key #\(number)") else { return nil }
        // The owner is named from the first "id" pair; while the fields are read, that pair is
        // looked for only if a problem needs the name, and after, the table has it at hand.
        let table = fields(node, allowed: Self.keyFields, in: keyOwner(number: number, idNode: firstValue(of: node, named: "id")))
        let owner = keyOwner(number: number, idNode: table["id"])
        var valid = true

        var id: String? = nil
        if let value = require(table, "id", in: owner, at: node) {
            id = identifier(value, subject: field("id", in: owner))
            if let id { keyIDs.append(Reference(name: id, position: value.position, owner: owner)) }
        }
        var tenant: String? = nil
        if let value = require(table, "tenant", in: owner, at: node) {
            tenant = string(value, subject: field("tenant", in: owner))
            if let tenant { tenantReferences.append(Reference(name: tenant, position: value.position, owner: owner)) }
        }
        var current: HashUse? = nil
        if let value = require(table, "sha256", in: owner, at: node),
           let hash = keyHash(value, subject: field("sha256", in: owner)) {
            current = HashUse(hash: hash, field: "sha256", position: value.position, owner: owner)
        }
        var key = KeyPolicy(id: id ?? "", tenant: tenant ?? "", sha256: current?.hash ?? KeyHash(secret: ""))
        valid = valid && id != nil && tenant != nil && current != nil

        if let value = table["default_tag"] {
            if let tag = identifier(value, subject: field("default_tag", in: owner)) { key.defaultTag = tag } else { valid = false }
        }
        if let value = table["rate_limits"] {
            if let limits = rateLimits(value, owner: owner) { key.rateLimits = limits } else { valid = false }
        }
        if let value = table["budgets"] {
            if let budgets = budgets(value, owner: owner) { key.budgets = budgets } else { valid = false }
        }
        if let value = table["models"] {
            if let models = modelPatterns(value, owner: owner) { key.models = models } else { valid = false }
        }
        if let value = table["expires_at"] {
            if let time = timestamp(value, subject: field("expires_at", in: owner)) { key.expiresAt = time } else { valid = false }
        }
        if let value = table["disabled"] {
            if let disabled = boolean(value, subject: field("disabled", in: owner)) { key.disabled = disabled } else { valid = false }
        }
        var previous: HashUse? = nil
        if let value = table["previous_sha256"] {
            if let hash = keyHash(value, subject: field("previous_sha256", in: owner)) {
                previous = HashUse(hash: hash, field: "previous_sha256", position: value.position, owner: owner)
                key.previousSHA256 = hash
            } else {
                valid = false
            }
        }
        if let value = table["previous_valid_until"] {
            if let time = timestamp(value, subject: field("previous_valid_until", in: owner)) {
                key.previousValidUntil = time
            } else {
                valid = false
            }
        }
        switch (table["previous_sha256"], table["previous_valid_until"]) {
        case (let hashNode?, nil):
            report(hashNode, "field \"previous_sha256\" in \(owner) requires \"previous_valid_until\" (when the old secret stops working)")
            valid = false
        case (nil, let untilNode?):
            report(untilNode, "field \"previous_valid_until\" in \(owner) requires \"previous_sha256\" (the hash of the old secret)")
            valid = false
        default:
            break
        }
        hashUses.append((current, previous))
        return valid ? key : nil
    }

    /// A key named by its id when the id is usable, by its position otherwise.
    private func keyOwner(number: Int, idNode: PolicyNode?) -> String {
        if let idNode, case .scalar(let scalar) = idNode, !isNull(idNode), Identifier.isValid(scalar.string) {
            return "key \(PolicyText.quoted(scalar.string))"
        }
        return "key #\(number)"
    }

    /// The value of the first pair of mapping `node` whose key reads `name`.
    private func firstValue(of node: PolicyNode, named name: String) -> PolicyNode? {
        guard case .mapping(let mapping) = node else { return nil }
        return tree.pairs(of: mapping).first(where: { keyText($0.key) == name })?.value
    }

    // MARK: - Shared structures

    private func rateLimits(_ node: PolicyNode, owner: String) -> RateLimits? {
        guard mapping(node, subject: field("rate_limits", in: owner)) else { return nil }
        // Scopes and subjects are only words for problems: built when one is reported.
        let scope = { "rate_limits of \(owner)" }
        let table = fields(node, allowed: Self.rateLimitFields, in: scope())
        var limits = RateLimits()
        var valid = true
        if let value = table["rpm"] {
            limits.requestsPerMinute = integer(value, subject: field("rpm", in: scope()), range: 1...PolicyLimits.requestsPerMinuteMax)
            valid = valid && limits.requestsPerMinute != nil
        }
        if let value = table["tpm"] {
            limits.tokensPerMinute = integer(value, subject: field("tpm", in: scope()), range: 1...PolicyLimits.tokensPerMinuteMax)
            valid = valid && limits.tokensPerMinute != nil
        }
        if let value = table["max_inflight"] {
            limits.inflightMax = integer(value, subject: field("max_inflight", in: scope()), range: 1...PolicyLimits.inflightMax)
            valid = valid && limits.inflightMax != nil
        }
        return valid ? limits : nil
    }

    private func budgets(_ node: PolicyNode, owner: String) -> [Budget]? {
        guard let items = list(node, subject: field("budgets", in: owner)) else { return nil }
        var valid = true
        if items.count > PolicyLimits.budgetsPerScopeCountMax {
            report(node, "too many budgets in \(owner): \(items.count) (limit \(PolicyLimits.budgetsPerScopeCountMax))")
            valid = false
        }
        var budgets: [Budget] = []
        for (offset, item) in items.enumerated() {
            let scope = { "budget #\(offset + 1) of \(owner)" }
            guard mapping(item, subject: scope()) else {
                valid = false
                continue
            }
            let table = fields(item, allowed: Self.budgetFields, in: scope())
            var period: BudgetPeriod? = nil
            if let value = require(table, "period", in: scope(), at: item),
               let text = string(value, subject: field("period", in: scope())) {
                period = BudgetPeriod(rawValue: text)
                if period == nil {
                    let names = BudgetPeriod.allCases.map(\.rawValue)
                    report(value, "field \"period\" in \(scope()) must be one of \(names.joined(separator: ", ")), got \(PolicyText.quoted(text))"
                        + PolicyText.suggestion(for: text, among: names))
                }
            }
            let cap = require(table, "cap_micros", in: scope(), at: item).flatMap {
                integer($0, subject: field("cap_micros", in: scope()), range: 0...PolicyLimits.capMicrosMax)
            }
            if let period, let cap {
                budgets.append(Budget(period: period, capMicros: cap))
            } else {
                valid = false
            }
        }
        return valid ? budgets : nil
    }

    private func modelPatterns(_ node: PolicyNode, owner: String) -> [ModelPattern]? {
        let subject = { self.field("models", in: owner) }
        guard let items = list(node, subject: subject()) else { return nil }
        var valid = true
        if items.isEmpty {
            report(node, "\(subject()) must list at least one model pattern")
            return nil
        }
        if items.count > PolicyLimits.modelPatternsCountMax {
            report(node, "too many model patterns in \(owner): \(items.count) (limit \(PolicyLimits.modelPatternsCountMax))")
            valid = false
        }
        var patterns: [ModelPattern] = []
        for (offset, item) in items.enumerated() {
            guard let text = string(item, subject: "entry #\(offset + 1) of \(subject())") else {
                valid = false
                continue
            }
            do {
                let pattern = try ModelPattern(text)
                patterns.append(pattern)
                patternUses.append(PatternUse(pattern: pattern, position: item.position, owner: owner))
            } catch {
                report(item, "invalid model pattern \(PolicyText.quoted(text)) in \(owner): \(Self.explain(error))")
                valid = false
            }
        }
        return valid ? patterns : nil
    }

    static func explain(_ error: ModelPattern.ParseError) -> String {
        switch error {
        case .empty: return "the pattern is empty"
        case .unclosedSet(let offset): return "\"[\" at byte \(offset) is never closed with \"]\""
        case .emptySet(let offset): return "the set at byte \(offset) is empty"
        case .trailingEscape: return "it ends with a lone backslash"
        case .invalidRange(let offset): return "the range at byte \(offset) runs backwards"
        case .nonPrintable(let offset): return "byte \(offset) is a space or a control character"
        }
    }

    // MARK: - Cross-references

    private func checkReferences(planNames: [String], tenantNames: [String], priceNames: [String]) {
        let plans = Set(planNames)
        for reference in planReferences where !plans.contains(reference.name) {
            report(at: reference.position, "\(reference.owner) references unknown plan \(PolicyText.quoted(reference.name))"
                + boundedSuggestion(for: reference.name, among: planNames))
        }
        let tenants = Set(tenantNames)
        for reference in tenantReferences where !tenants.contains(reference.name) {
            report(at: reference.position, "\(reference.owner) references unknown tenant \(PolicyText.quoted(reference.name))"
                + boundedSuggestion(for: reference.name, among: tenantNames))
        }

        var firstKeyID: [String: SourcePosition] = [:]
        firstKeyID.reserveCapacity(keyIDs.count)
        for reference in keyIDs {
            if let first = firstKeyID[reference.name] {
                report(at: reference.position, "duplicate key id \(PolicyText.quoted(reference.name)) (first at \(first.prose))")
            } else {
                firstKeyID[reference.name] = reference.position
            }
        }

        var firstHash: [KeyHash: HashUse] = [:]
        firstHash.reserveCapacity(hashUses.count)
        // One key's current hash, then its previous one; no array per key.
        func check(_ use: HashUse, current: HashUse?) {
            if use.field == "previous_sha256", let current, current.hash == use.hash {
                report(at: use.position, "field \"previous_sha256\" in \(use.owner) equals its own \"sha256\"")
                return
            }
            if let first = firstHash[use.hash] {
                report(at: use.position, "duplicate hash: field \"\(use.field)\" in \(use.owner) equals field \"\(first.field)\" in \(first.owner) (\(first.position.prose))")
            } else {
                firstHash[use.hash] = use
            }
        }
        for (current, previous) in hashUses {
            if let current { check(current, current: current) }
            if let previous { check(previous, current: current) }
        }

        // Keys and plans mostly repeat the same few patterns: match each distinct one once.
        var matchesSomePrice: [String: Bool] = [:]
        for use in patternUses {
            let matched = matchesSomePrice[use.pattern.pattern] ?? priceNames.contains(where: { use.pattern.matches($0) })
            matchesSomePrice[use.pattern.pattern] = matched
            if matched { continue }
            if use.pattern.isLiteral {
                report(at: use.position, "model \(PolicyText.quoted(use.pattern.pattern)) in \(use.owner) has no price (add it under \"prices\")")
            } else {
                report(at: use.position, "pattern \(PolicyText.quoted(use.pattern.pattern)) in \(use.owner) matches no model in prices")
            }
        }
    }

    /// Comparisons left for "did you mean" on references: a policy with a million keys that all
    /// name unknown tenants must not take a million squared edit distances to report.
    private var suggestionComparisonsLeft = 10_000_000

    private func boundedSuggestion(for word: String, among candidates: [String]) -> String {
        guard suggestionComparisonsLeft >= candidates.count else { return "" }
        suggestionComparisonsLeft -= candidates.count
        return PolicyText.suggestion(for: word, among: candidates)
    }

    // MARK: - Mappings

    struct Entry {
        var name: String
        var key: PolicyNode
        var value: PolicyNode
    }

    /// The fields of one schema mapping, at the index of their name in the schema's list: a
    /// schema has at most a dozen names, so a scan beats hashing.
    /// The fields of one schema mapping. A schema has at most a dozen names and a mapping about
    /// as many pairs, so a field is found by a scan of the pairs: no table is allocated per mapping.
    struct Table {
        let allowed: [String]
        /// The mapping's pairs (shared, not copied).
        var pairs: ArraySlice<(key: PolicyNode, value: PolicyNode)> = []
        var restoredKeys: [SourcePosition: String] = [:]
        /// Bit `i` is set when `allowed[i]` appears; schemas have far fewer than 64 names.
        var present: UInt64 = 0
        /// Where the first pair of each of the first `recordedNamesMax` allowed names is: a byte
        /// each, its offset in `pairs` plus one (0 when not recorded, and then `firstPair(named:)`
        /// scans). Two words rather than an array, which would be an allocation per mapping.
        private var firstOffsets: (low: UInt64, high: UInt64) = (0, 0)
        static let recordedNamesMax = 16
        /// Offsets from this on are not recorded (the byte holds the offset plus one).
        static let recordedOffsetsMax = 254

        init(allowed: [String]) {
            precondition(allowed.count <= 64, "a schema has at most 64 field names")
            self.allowed = allowed
        }

        /// The index of `name` among the allowed names; lengths are compared first, as most differ.
        static func index(of name: String, in allowed: [String]) -> Int? {
            let count = name.utf8.count
            for index in allowed.indices where allowed[index].utf8.count == count && allowed[index] == name {
                return index
            }
            return nil
        }

        /// The first pair whose key reads `name` (the one a repeat is reported against).
        func firstPair(named name: String) -> (key: PolicyNode, value: PolicyNode)? {
            let count = name.utf8.count
            for pair in pairs {
                if let text = PolicyValidator.keyText(pair.key, restoredKeys: restoredKeys), text.utf8.count == count, text == name {
                    return pair
                }
            }
            return nil
        }

        mutating func recordFirst(index: Int, offset: Int) {
            guard index < Self.recordedNamesMax, offset <= Self.recordedOffsetsMax else { return }
            let value = UInt64(offset + 1) << UInt64(index % 8 * 8)
            if index < 8 { firstOffsets.low |= value } else { firstOffsets.high |= value }
        }

        /// The first pair of `allowed[index]`, which is present and named `name`.
        private func firstPair(index: Int, named name: String) -> (key: PolicyNode, value: PolicyNode)? {
            if index < Self.recordedNamesMax {
                let word = index < 8 ? firstOffsets.low : firstOffsets.high
                let stored = Int(truncatingIfNeeded: word >> UInt64(index % 8 * 8) & 0xFF)
                if stored != 0 { return pairs[pairs.startIndex + stored - 1] }
            }
            return firstPair(named: name)
        }

        func entry(_ name: String) -> Entry? {
            guard let index = Self.index(of: name, in: allowed), present & (1 << index) != 0,
                  let pair = firstPair(index: index, named: name) else { return nil }
            return Entry(name: name, key: pair.key, value: pair.value)
        }

        subscript(name: String) -> PolicyNode? {
            guard let index = Self.index(of: name, in: allowed), present & (1 << index) != 0 else { return nil }
            return firstPair(index: index, named: name)?.value
        }
    }

    static let identifierRule = "identifiers are " + Identifier.ruleDescription

    private func field(_ name: String, in scope: String?) -> String {
        "field \(PolicyText.quoted(name)) \(Self.location(scope))"
    }

    private static func location(_ scope: String?) -> String {
        scope.map { "in \($0)" } ?? "at top level"
    }

    /// The text of a mapping key, with a key renamed by the loader restored to what the file says.
    private func keyText(_ node: PolicyNode) -> String? {
        Self.keyText(node, restoredKeys: restoredKeys)
    }

    static func keyText(_ node: PolicyNode, restoredKeys: [SourcePosition: String]) -> String? {
        guard case .scalar(let scalar) = node else { return nil }
        if restoredKeys.isEmpty { return scalar.string }
        return restoredKeys[scalar.position] ?? scalar.string
    }

    private func markChecked(_ mapping: PolicyNode.Mapping) {
        guard mapping.identity < checkedMappings.count, !checkedMappings[mapping.identity] else { return }
        checkedMappings[mapping.identity] = true
        checkedMappingsCount += 1
    }

    /// The fields of a schema mapping, reporting unknown and repeated fields. `node` must be a mapping.
    private func fields(_ node: PolicyNode, allowed: [String], in scope: @autoclosure () -> String?) -> Table {
        var table = Table(allowed: allowed)
        guard case .mapping(let mapping) = node else { return table }
        markChecked(mapping)
        table.pairs = tree.pairs(of: mapping)
        table.restoredKeys = restoredKeys
        for offset in table.pairs.indices {
            let key = table.pairs[offset].key
            guard let name = keyText(key) else {
                report(key, "field names \(Self.location(scope())) must be strings, got \(describe(key))")
                continue
            }
            if let index = Table.index(of: name, in: allowed) {
                if table.present & (1 << index) != 0 {
                    let first = table.firstPair(named: name)?.key.position ?? key.position
                    report(key, "duplicate field \(PolicyText.quoted(name)) \(Self.location(scope())) (first at \(first.prose))")
                } else {
                    table.present |= 1 << index
                    table.recordFirst(index: index, offset: offset - table.pairs.startIndex)
                }
            } else {
                report(key, "unknown field \(PolicyText.quoted(name)) \(Self.location(scope()))"
                    + PolicyText.suggestion(for: name, among: allowed))
            }
        }
        return table
    }

    /// The entries of a mapping keyed by names (plans, tenants, tags...), without repeats.
    /// `what` names the collection in messages ("plans", "tags in tenant \"acme\""); a count over
    /// `countLimit` is reported at `countAt`, the key that introduces the collection.
    private func collection(
        _ node: PolicyNode, what: String, countLimit: Int, countAt: PolicyNode, duplicate: (String) -> String
    ) -> [Entry] {
        guard case .mapping(let mapping) = node else { return [] }
        markChecked(mapping)
        let pairs = tree.pairs(of: mapping)
        var entries: [Entry] = []
        entries.reserveCapacity(pairs.count)
        var first: [String: SourcePosition] = [:]
        first.reserveCapacity(pairs.count)
        for (key, value) in pairs {
            guard let name = keyText(key), !isNull(key) else {
                report(key, "names in \(what) must be strings, got \(describe(key))")
                continue
            }
            if let earlier = first.updateValue(key.position, forKey: name) {
                first[name] = earlier
                report(key, "\(duplicate(name)) (first at \(earlier.prose))")
                continue
            }
            entries.append(Entry(name: name, key: key, value: value))
        }
        if entries.count > countLimit {
            report(countAt, "too many \(what): \(entries.count) (limit \(countLimit))")
        }
        return entries
    }

    /// A top-level section of named entries (prices, plans, tenants): each entry parsed on its own
    /// and stored under its name when valid. Returns every name, valid or not, so that references
    /// to an entry with problems are not reported as unknown too.
    private func namedSection<Value>(
        _ top: Table, _ name: String, what: String, countLimit: Int, into values: inout [String: Value],
        duplicate: (String) -> String, parse: (Entry) -> Value?
    ) -> [String] {
        guard let section = section(top, name) else { return [] }
        let entries = collection(section.value, what: what, countLimit: countLimit, countAt: section.key, duplicate: duplicate)
        for entry in entries {
            if let value = parse(entry) { values[entry.name] = value }
        }
        return entries.map(\.name)
    }

    /// A top-level section that holds a mapping; absent or null means empty.
    private func section(_ table: Table, _ name: String) -> Entry? {
        guard let entry = table.entry(name), !isNull(entry.value) else { return nil }
        return mapping(entry.value, subject: field(name, in: nil)) ? entry : nil
    }

    /// Repeated keys in mappings that the schema walk did not reach (inside values of the wrong type).
    /// Each node is visited once, however many aliases refer to it.
    private func checkRemainingDuplicates(_ root: PolicyNode) {
        var visitedMappings = Array(repeating: false, count: checkedMappings.count)
        var visitedSequences = Array(repeating: false, count: tree.sequencesCount)
        var stack = [root]
        while let node = stack.popLast() {
            switch node {
            case .mapping(let mapping):
                guard mapping.identity < visitedMappings.count, !visitedMappings[mapping.identity] else { continue }
                visitedMappings[mapping.identity] = true
                if !checkedMappings[mapping.identity] {
                    var first: [String: SourcePosition] = [:]
                    for (key, _) in tree.pairs(of: mapping) {
                        guard let name = keyText(key) else { continue }
                        if let earlier = first[name] {
                            report(key, "duplicate key \(PolicyText.quoted(name)) (first at \(earlier.prose))")
                        } else {
                            first[name] = key.position
                        }
                    }
                }
                for (key, value) in tree.pairs(of: mapping) {
                    stack.append(key)
                    stack.append(value)
                }
            case .sequence(let sequence):
                guard sequence.identity < visitedSequences.count, !visitedSequences[sequence.identity] else { continue }
                visitedSequences[sequence.identity] = true
                stack.append(contentsOf: tree.items(of: sequence))
            case .scalar, .alias:
                break
            }
        }
    }
    private func require(_ table: Table, _ name: String, in scope: @autoclosure () -> String?, at owner: PolicyNode) -> PolicyNode? {
        if let value = table[name] { return value }
        report(owner, "missing required field \(PolicyText.quoted(name)) \(Self.location(scope()))")
        return nil
    }

    // MARK: - Values

    /// The resolved tag of a scalar; collections resolve to their own tags.
    private func tagName(_ node: PolicyNode) -> Tag.Name {
        switch node {
        case .scalar(let scalar): return scalar.resolvedTag
        case .mapping: return .map
        case .sequence: return .seq
        case .alias: return .implicit
        }
    }

    private func isNull(_ node: PolicyNode) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        if scalar.tag == .implicit, scalar.style == .plain { return PlainScalarTag.isNull(scalar.string) }
        return scalar.resolvedTag == .null
    }

    /// "a mapping", "a list", "null", or a scalar as written: `"text"` for strings, bare otherwise.
    private func describe(_ node: PolicyNode, revealing: Bool = true) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            let tag = tagName(node)
            if tag == .null { return "null" }
            if !revealing {
                switch tag {
                case .int: return "an integer"
                case .float: return "a number"
                case .bool: return "a boolean"
                default: return "a string"
                }
            }
            if tag == .str || scalar.style != .plain { return PolicyText.quoted(scalar.string) }
            return PolicyText.escaped(scalar.string)
        }
    }

    private func mapping(_ node: PolicyNode, subject: @autoclosure () -> String) -> Bool {
        if case .mapping = node { return true }
        report(node, "\(subject()) must be a mapping, got \(describe(node))")
        return false
    }

    private func list(_ node: PolicyNode, subject: @autoclosure () -> String) -> ArraySlice<PolicyNode>? {
        if case .sequence(let sequence) = node { return tree.items(of: sequence) }
        report(node, "\(subject()) must be a list, got \(describe(node))")
        return nil
    }

    /// Any scalar but null, as written: `plan: 2025` names the plan "2025".
    private func string(_ node: PolicyNode, subject: @autoclosure () -> String, revealing: Bool = true) -> String? {
        if case .scalar(let scalar) = node, !isNull(node) { return scalar.string }
        report(node, "\(subject()) must be a string, got \(describe(node, revealing: revealing))")
        return nil
    }

    private func identifier(_ node: PolicyNode, subject: @autoclosure () -> String) -> String? {
        guard let text = string(node, subject: subject()) else { return nil }
        guard Identifier.isValid(text) else {
            report(node, "\(subject()) must be an identifier, got \(PolicyText.quoted(text)) (\(Self.identifierRule))")
            return nil
        }
        return text
    }

    private func displayName(_ node: PolicyNode, subject: @autoclosure () -> String) -> String? {
        guard let text = string(node, subject: subject()) else { return nil }
        let bytes = text.utf8.count
        let control = text.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7f && $0.value < 0xa0) }
        guard bytes >= 1, bytes <= PolicyLimits.displayNameBytesMax, !control else {
            report(node, "\(subject()) must be 1 to \(PolicyLimits.displayNameBytesMax) bytes of text without control characters, got \(PolicyText.quoted(text))")
            return nil
        }
        return text
    }

    /// Plain decimal integers only: no quotes, fractions, exponents, or 0x/0o/0b forms.
    /// Underscores between digits are allowed (`1_000_000`), as YAML allows them.
    private func integer(_ node: PolicyNode, subject: @autoclosure () -> String, range: ClosedRange<Int64>?) -> Int64? {
        guard case .scalar(let scalar) = node, tagName(node) == .int, scalar.style == .plain else {
            report(node, "\(subject()) must be an integer, got \(describe(node))")
            return nil
        }
        // Byte by byte: this runs for every number of a 100,000-key file.
        let utf8 = scalar.string.utf8
        var index = utf8.startIndex
        var negative = false
        if index < utf8.endIndex, utf8[index] == UInt8(ascii: "-") || utf8[index] == UInt8(ascii: "+") {
            negative = utf8[index] == UInt8(ascii: "-")
            index = utf8.index(after: index)
        }
        var decimal = !(index < utf8.endIndex && utf8[index] == UInt8(ascii: "_"))
        var digitsCount = 0
        var firstDigit: UInt8 = 0
        var magnitude: UInt64? = 0
        for byte in utf8[index...] where byte != UInt8(ascii: "_") {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                decimal = false
                break
            }
            if digitsCount == 0 { firstDigit = byte }
            digitsCount += 1
            magnitude = magnitude.flatMap { current in
                let (shifted, overflowShift) = current.multipliedReportingOverflow(by: 10)
                let (sum, overflowAdd) = shifted.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                return overflowShift || overflowAdd ? nil : sum
            }
        }
        decimal = decimal && digitsCount > 0 && !(digitsCount > 1 && firstDigit == UInt8(ascii: "0"))
        guard decimal else {
            report(node, "\(subject()) must be a decimal integer, got \(scalar.string)")
            return nil
        }
        let value: Int64? = magnitude.flatMap { magnitude in
            negative ? (magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil)
                : (magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil)
        }
        guard let value, range.map({ $0.contains(value) }) ?? true else {
            if let range {
                report(node, "\(subject()) must be between \(range.lowerBound) and \(range.upperBound), got \(scalar.string)")
            } else {
                report(node, "\(subject()) is too large, got \(scalar.string)")
            }
            return nil
        }
        return value
    }

    /// `true` or `false`, nothing else (no yes/no/on/off, no quotes).
    private func boolean(_ node: PolicyNode, subject: @autoclosure () -> String) -> Bool? {
        if case .scalar(let scalar) = node, scalar.style == .plain, tagName(node) == .bool {
            if scalar.string == "true" { return true }
            if scalar.string == "false" { return false }
        }
        report(node, "\(subject()) must be true or false, got \(describe(node))")
        return nil
    }

    private func duration(_ node: PolicyNode, subject: @autoclosure () -> String, range: ClosedRange<Int64>) -> Int64? {
        guard let text = string(node, subject: subject()) else { return nil }
        guard let seconds = PolicyDuration.parse(text) else {
            report(node, "\(subject()) must be a duration such as \"30s\", \"10m\", \"1h30m\" or \"7d\", got \(describe(node))")
            return nil
        }
        guard range.contains(seconds) else {
            report(node, "\(subject()) must be between \(PolicyDuration.format(range.lowerBound)) and \(PolicyDuration.format(range.upperBound)), got \(PolicyText.quoted(text))")
            return nil
        }
        return seconds
    }

    static let earliestTimestamp = Timestamp.zero
    /// The last nanosecond before `PolicyLimits.timestampSecondsMax` (2200-01-01T00:00:00Z).
    static let latestTimestamp = Timestamp(nanosecondsSinceEpoch: PolicyLimits.timestampSecondsMax * Timestamp.nanosecondsPerSecond - 1)

    private func timestamp(_ node: PolicyNode, subject: @autoclosure () -> String) -> Timestamp? {
        guard let text = string(node, subject: subject()) else { return nil }
        guard let time = PolicyTimestamp.parse(text) else {
            report(node, "\(subject()) must be an RFC 3339 timestamp such as \"2027-06-30T00:00:00Z\", got \(PolicyText.quoted(text))")
            return nil
        }
        guard time >= Self.earliestTimestamp, time <= Self.latestTimestamp else {
            report(node, "\(subject()) must be between \(Self.earliestTimestamp) and \(Self.latestTimestamp), got \(PolicyText.quoted(text))")
            return nil
        }
        return time
    }

    /// 64 hex digits. The value is never echoed: a secret pasted here by mistake must not reach a log.
    private func keyHash(_ node: PolicyNode, subject: @autoclosure () -> String) -> KeyHash? {
        guard let text = string(node, subject: subject(), revealing: false) else { return nil }
        guard let hash = KeyHash(hex: text) else {
            report(node, "\(subject()) must be 64 hexadecimal digits (the SHA-256 of the secret, not the secret itself)")
            return nil
        }
        return hash
    }
}
