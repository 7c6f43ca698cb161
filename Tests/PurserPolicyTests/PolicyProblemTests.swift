import Testing
@testable import PurserPolicy

/// One malformed policy and the exact problems it must produce.
struct ProblemCase: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var expected: [String]
    var fileName = "p.yaml"

    var testDescription: String { name }
}

/// Lines 1-3: a price for "m", a plan "p" allowing it.
let prefix = """
    version: 1
    prices: { m: { input: 1, output: 2 } }
    plans: { p: { models: [m] } }

    """
/// Lines 1-4: `prefix` plus tenant "t" on plan "p".
let base = prefix + "tenants: { t: { plan: p } }\n"

/// `base`, then lines 5-8: key "k" of tenant "t" with hash A, then one line per `extra` (line 9...).
func withKey(_ extra: String...) -> String {
    base + "keys:\n  - id: k\n    tenant: t\n    sha256: \(hashA)\n" + extra.map { "    \($0)\n" }.joined()
}

/// `base`, then lines 5-11: key "k" (hash A) and key `secondID` (`secondHash`), then `extra` on key 2 (line 12...).
func withTwoKeys(secondID: String, secondHash: String, _ extra: String...) -> String {
    base + """
        keys:
          - id: k
            tenant: t
            sha256: \(hashA)
          - id: \(secondID)
            tenant: t
            sha256: \(secondHash)

        """ + extra.map { "    \($0)\n" }.joined()
}

let identifierRule = "identifiers are 1-128 bytes of letters, digits and _ . : @ / -, starting with a letter, digit or _"
let durationHint = "must be a duration such as \"30s\", \"10m\", \"1h30m\" or \"7d\""
let timestampHint = "must be an RFC 3339 timestamp such as \"2027-06-30T00:00:00Z\""
let budgetItem = "{ period: day, cap_micros: 1 }"

let problemCases: [ProblemCase] = [
    // YAML syntax
    ProblemCase(name: "unclosed flow sequence", text: "version: 1\nplans: [a\n", expected: [
        "p.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2, column 8)",
    ]),
    ProblemCase(name: "mapping value in plain scalar", text: "version: 1\nplans: a: b\n", expected: [
        "p.yaml:2:9: invalid YAML: mapping values are not allowed in this context",
    ]),
    ProblemCase(name: "undefined alias", text: "version: 1\nplans: *nothing\n", expected: [
        "p.yaml:2:8: invalid YAML: found undefined alias",
    ]),
    ProblemCase(name: "two documents", text: "version: 1\n---\nversion: 1\n", expected: [
        "p.yaml:2:1: invalid YAML: expected a single document, but found another document",
    ]),
    ProblemCase(name: "control character", text: "version: 1\nplans: \u{1}\n", expected: [
        "p.yaml:2:8: invalid YAML: control characters are not allowed",
    ]),

    // Document shape and version
    ProblemCase(name: "root is a list", text: "- 1\n", expected: [
        "p.yaml:1:1: the policy must be a mapping with fields such as \"version\", \"plans\", \"tenants\" and \"keys\", got a list",
    ]),
    ProblemCase(name: "empty file", text: "", expected: [
        "p.yaml:1:1: missing required field \"version\" at top level",
    ]),
    ProblemCase(name: "missing version", text: "plans: {}\n", expected: [
        "p.yaml:1:1: missing required field \"version\" at top level",
    ]),
    ProblemCase(name: "unsupported version", text: "version: 2\n", expected: [
        "p.yaml:1:10: unsupported version 2 (this version of Purser reads version 1)",
    ]),
    ProblemCase(name: "version as a string", text: "version: \"1\"\n", expected: [
        "p.yaml:1:10: field \"version\" at top level must be an integer, got \"1\"",
    ]),

    // Unknown fields
    ProblemCase(name: "unknown top-level field with suggestion", text: "version: 1\ntenant: {}\n", expected: [
        "p.yaml:2:1: unknown field \"tenant\" at top level (did you mean \"tenants\"?)",
    ]),
    ProblemCase(name: "unknown top-level field", text: "version: 1\ncolour: red\n", expected: [
        "p.yaml:2:1: unknown field \"colour\" at top level",
    ]),
    ProblemCase(name: "unknown tenant field", text: prefix + "tenants: { t: { plan: p, budget: [] } }\n", expected: [
        "p.yaml:4:26: unknown field \"budget\" in tenant \"t\" (did you mean \"budgets\"?)",
    ]),
    ProblemCase(name: "unknown rate limit field",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [m], rate_limits: { rpn: 5 } } }\n",
                expected: [
        "p.yaml:3:43: unknown field \"rpn\" in rate_limits of plan \"p\" (did you mean \"rpm\"?)",
    ]),
    ProblemCase(name: "unknown key field", text: withKey("expires: 2027-01-01T00:00:00Z"), expected: [
        "p.yaml:9:5: unknown field \"expires\" in key \"k\" (did you mean \"expires_at\"?)",
    ]),

    // Missing required fields
    ProblemCase(name: "budget without cap_micros",
                text: prefix + "tenants: { t: { plan: p, budgets: [ { period: day, cap: 5 } ] } }\n", expected: [
        "p.yaml:4:37: missing required field \"cap_micros\" in budget #1 of tenant \"t\"",
        "p.yaml:4:52: unknown field \"cap\" in budget #1 of tenant \"t\"",
    ]),
    ProblemCase(name: "tenant without plan", text: prefix + "tenants: { t: { name: T } }\n", expected: [
        "p.yaml:4:12: missing required field \"plan\" in tenant \"t\"",
    ]),
    ProblemCase(name: "key without sha256", text: base + "keys:\n  - id: k\n    tenant: t\n", expected: [
        "p.yaml:6:5: missing required field \"sha256\" in key \"k\"",
    ]),
    ProblemCase(name: "plan without models",
                text: "version: 1\nprices: {}\nplans: { p: { rate_limits: { rpm: 1 } } }\n", expected: [
        "p.yaml:3:10: missing required field \"models\" in plan \"p\"",
    ]),
    ProblemCase(name: "price without output", text: "version: 1\nprices: { m: { input: 1 } }\n", expected: [
        "p.yaml:2:11: missing required field \"output\" in price \"m\"",
    ]),
    ProblemCase(name: "null for a required string", text: prefix + "tenants:\n  t:\n    plan:\n", expected: [
        "p.yaml:6:10: field \"plan\" in tenant \"t\" must be a string, got null",
    ]),

    // Wrong types
    ProblemCase(name: "tenants as a list", text: "version: 1\ntenants: [a]\n", expected: [
        "p.yaml:2:10: field \"tenants\" at top level must be a mapping, got a list",
    ]),
    ProblemCase(name: "tenant as a string", text: prefix + "tenants: { t: p }\n", expected: [
        "p.yaml:4:15: tenant \"t\" must be a mapping, got \"p\"",
    ]),
    ProblemCase(name: "quoted integer", text: prefix + "tenants: { t: { plan: p, rate_limits: { rpm: \"5\" } } }\n", expected: [
        "p.yaml:4:46: field \"rpm\" in rate_limits of tenant \"t\" must be an integer, got \"5\"",
    ]),
    ProblemCase(name: "float cap",
                text: prefix + "tenants: { t: { plan: p, budgets: [ { period: day, cap_micros: 1.5 } ] } }\n", expected: [
        "p.yaml:4:64: field \"cap_micros\" in budget #1 of tenant \"t\" must be an integer, got 1.5",
    ]),
    ProblemCase(name: "hexadecimal integer", text: "version: 1\nprices: { m: { input: 0x10, output: 2 } }\n", expected: [
        "p.yaml:2:23: field \"input\" in price \"m\" must be a decimal integer, got 0x10",
    ]),
    ProblemCase(name: "yes is not a boolean", text: prefix + "tenants: { t: { plan: p, prepaid: yes } }\n", expected: [
        "p.yaml:4:35: field \"prepaid\" in tenant \"t\" must be true or false, got yes",
    ]),
    ProblemCase(name: "quoted boolean", text: withKey("disabled: \"false\""), expected: [
        "p.yaml:9:15: field \"disabled\" in key \"k\" must be true or false, got \"false\"",
    ]),
    ProblemCase(name: "keys as a mapping", text: "version: 1\nkeys: { id: k }\n", expected: [
        "p.yaml:2:7: field \"keys\" at top level must be a list, got a mapping",
    ]),
    ProblemCase(name: "key as a string", text: "version: 1\nkeys:\n  - key_acme\n", expected: [
        "p.yaml:3:5: key #1 must be a mapping, got \"key_acme\"",
    ]),
    ProblemCase(name: "models as a mapping with a repeated key",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: { a: 1, a: 2 } } }\n",
                expected: [
        "p.yaml:3:23: field \"models\" in plan \"p\" must be a list, got a mapping",
        "p.yaml:3:31: duplicate key \"a\" (first at line 3, column 25)",
    ]),

    // References
    ProblemCase(name: "unknown tenant", text: base + "keys:\n  - id: k\n    tenant: tt\n    sha256: \(hashA)\n", expected: [
        "p.yaml:7:13: key \"k\" references unknown tenant \"tt\" (did you mean \"t\"?)",
    ]),
    ProblemCase(name: "unknown plan", text: prefix + "tenants: { t: { plan: gold } }\n", expected: [
        "p.yaml:4:23: tenant \"t\" references unknown plan \"gold\"",
    ]),

    // Duplicates
    ProblemCase(name: "repeated field in a tenant", text: prefix + "tenants:\n  t:\n    plan: p\n    plan: p\n", expected: [
        "p.yaml:7:5: duplicate field \"plan\" in tenant \"t\" (first at line 6, column 5)",
    ]),
    ProblemCase(name: "repeated tenant", text: prefix + "tenants:\n  t: { plan: p }\n  t: { plan: p }\n", expected: [
        "p.yaml:6:3: duplicate tenant \"t\" (first at line 5, column 3)",
    ]),
    ProblemCase(name: "repeated field in a flow mapping",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [m], rate_limits: { rpm: 1, rpm: 2 } } }\n",
                expected: [
        "p.yaml:3:51: duplicate field \"rpm\" in rate_limits of plan \"p\" (first at line 3, column 43)",
    ]),
    ProblemCase(name: "repeated version", text: "version: 1\nversion: 1\n", expected: [
        "p.yaml:2:1: duplicate field \"version\" at top level (first at line 1, column 1)",
    ]),
    ProblemCase(name: "repeated JSON key", text: "{\"version\": 1, \"version\": 1}", expected: [
        "p.json:1:16: duplicate field \"version\" at top level (first at line 1, column 2)",
    ], fileName: "p.json"),
    ProblemCase(name: "repeated price", text: "version: 1\nprices: { m: { input: 1, output: 2 }, m: { input: 1, output: 2 } }\n", expected: [
        "p.yaml:2:39: duplicate price for model \"m\" (first at line 2, column 11)",
    ]),
    ProblemCase(name: "repeated tenant tag",
                text: prefix + "tenants: { t: { plan: p, tags: { x: { budgets: [] }, x: { budgets: [] } } } }\n", expected: [
        "p.yaml:4:54: duplicate tag \"x\" in tenant \"t\" (first at line 4, column 34)",
    ]),
    ProblemCase(name: "repeated key id", text: withTwoKeys(secondID: "k", secondHash: hashB), expected: [
        "p.yaml:9:9: duplicate key id \"k\" (first at line 6, column 9)",
    ]),
    ProblemCase(name: "repeated hash", text: withTwoKeys(secondID: "j", secondHash: hashA), expected: [
        "p.yaml:11:13: duplicate hash: field \"sha256\" in key \"j\" equals field \"sha256\" in key \"k\" (line 8, column 13)",
    ]),
    ProblemCase(name: "previous hash equals own hash",
                text: withKey("previous_sha256: \(hashA)", "previous_valid_until: 2027-01-01T00:00:00Z"), expected: [
        "p.yaml:9:22: field \"previous_sha256\" in key \"k\" equals its own \"sha256\"",
    ]),
    ProblemCase(name: "previous hash equals another key's hash",
                text: withTwoKeys(secondID: "j", secondHash: hashB, "previous_sha256: \(hashA)",
                                  "previous_valid_until: 2027-01-01T00:00:00Z"), expected: [
        "p.yaml:12:22: duplicate hash: field \"previous_sha256\" in key \"j\" equals field \"sha256\" in key \"k\" (line 8, column 13)",
    ]),

    // Numbers out of range
    ProblemCase(name: "negative cap",
                text: prefix + "tenants: { t: { plan: p, budgets: [ { period: day, cap_micros: -1 } ] } }\n", expected: [
        "p.yaml:4:64: field \"cap_micros\" in budget #1 of tenant \"t\" must be between 0 and 1000000000000000, got -1",
    ]),
    ProblemCase(name: "zero rpm", text: withKey("rate_limits: { rpm: 0 }"), expected: [
        "p.yaml:9:25: field \"rpm\" in rate_limits of key \"k\" must be between 1 and 1000000000, got 0",
    ]),
    ProblemCase(name: "price above the limit", text: "version: 1\nprices: { m: { input: 1000000000001, output: 2 } }\n", expected: [
        "p.yaml:2:23: field \"input\" in price \"m\" must be between 0 and 1000000000000, got 1000000000001",
    ]),
    ProblemCase(name: "max_inflight above the limit", text: withKey("rate_limits: { max_inflight: 1000001 }"), expected: [
        "p.yaml:9:34: field \"max_inflight\" in rate_limits of key \"k\" must be between 1 and 1000000, got 1000001",
    ]),
    ProblemCase(name: "integer beyond 64 bits", text: withKey("rate_limits: { tpm: 99999999999999999999 }"), expected: [
        "p.yaml:9:25: field \"tpm\" in rate_limits of key \"k\" must be between 1 and 1000000000000, got 99999999999999999999",
    ]),

    // Globs, durations, timestamps, identifiers, hashes
    ProblemCase(name: "bad glob",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [\"gpt-[5\"] } }\n", expected: [
        "p.yaml:3:24: invalid model pattern \"gpt-[5\" in plan \"p\": \"[\" at byte 4 is never closed with \"]\"",
    ]),
    ProblemCase(name: "empty models list", text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [] } }\n", expected: [
        "p.yaml:3:23: field \"models\" in plan \"p\" must list at least one model pattern",
    ]),
    ProblemCase(name: "bad duration", text: "version: 1\ndefaults: { reservation_ttl: 10 minutes }\n", expected: [
        "p.yaml:2:30: field \"reservation_ttl\" in defaults \(durationHint), got \"10 minutes\"",
    ]),
    ProblemCase(name: "bare number as a duration", text: "version: 1\ndefaults: { reservation_ttl: 600 }\n", expected: [
        "p.yaml:2:30: field \"reservation_ttl\" in defaults \(durationHint), got 600",
    ]),
    ProblemCase(name: "ttl above the limit", text: "version: 1\ndefaults: { reservation_ttl: 8d }\n", expected: [
        "p.yaml:2:30: field \"reservation_ttl\" in defaults must be between 1s and 7d, got \"8d\"",
    ]),
    ProblemCase(name: "zero ttl", text: "version: 1\ndefaults: { reservation_ttl: 0s }\n", expected: [
        "p.yaml:2:30: field \"reservation_ttl\" in defaults must be between 1s and 7d, got \"0s\"",
    ]),
    ProblemCase(name: "retention above the limit", text: "version: 1\ndefaults: { reservation_retention: 91d }\n", expected: [
        "p.yaml:2:36: field \"reservation_retention\" in defaults must be between 0s and 90d, got \"91d\"",
    ]),
    ProblemCase(name: "impossible date", text: withKey("expires_at: 2027-02-30T00:00:00Z"), expected: [
        "p.yaml:9:17: field \"expires_at\" in key \"k\" \(timestampHint), got \"2027-02-30T00:00:00Z\"",
    ]),
    ProblemCase(name: "timestamp before 1970", text: withKey("expires_at: 1969-12-31T23:59:59Z"), expected: [
        "p.yaml:9:17: field \"expires_at\" in key \"k\" must be between 1970-01-01T00:00:00Z and 2199-12-31T23:59:59Z, got \"1969-12-31T23:59:59Z\"",
    ]),
    ProblemCase(name: "timestamp in 2200", text: withKey("expires_at: 2200-01-01T00:00:00Z"), expected: [
        "p.yaml:9:17: field \"expires_at\" in key \"k\" must be between 1970-01-01T00:00:00Z and 2199-12-31T23:59:59Z, got \"2200-01-01T00:00:00Z\"",
    ]),
    // Past 2262 and before 1678 the time does not fit Int64 nanoseconds: reported, not a trap.
    ProblemCase(name: "timestamp in 9999", text: withKey("expires_at: 9999-12-31T23:59:59Z"), expected: [
        "p.yaml:9:17: field \"expires_at\" in key \"k\" must be between 1970-01-01T00:00:00Z and 2199-12-31T23:59:59Z, got \"9999-12-31T23:59:59Z\"",
    ]),
    ProblemCase(name: "timestamp in year 1", text: withKey("expires_at: 0001-01-01T00:00:00Z"), expected: [
        "p.yaml:9:17: field \"expires_at\" in key \"k\" must be between 1970-01-01T00:00:00Z and 2199-12-31T23:59:59Z, got \"0001-01-01T00:00:00Z\"",
    ]),
    ProblemCase(name: "bad tenant id", text: prefix + "tenants: { \"a b\": { plan: p } }\n", expected: [
        "p.yaml:4:12: tenant id \"a b\" is invalid: \(identifierRule)",
    ]),
    ProblemCase(name: "bad default_tag", text: withKey("default_tag: -x"), expected: [
        "p.yaml:9:18: field \"default_tag\" in key \"k\" must be an identifier, got \"-x\" (\(identifierRule))",
    ]),
    ProblemCase(name: "bad key id", text: base + "keys:\n  - id: \"k k\"\n    tenant: t\n    sha256: \(hashA)\n", expected: [
        "p.yaml:6:9: field \"id\" in key #1 must be an identifier, got \"k k\" (\(identifierRule))",
    ]),
    ProblemCase(name: "bad plan id", text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { \"p!\": { models: [m] } }\n", expected: [
        "p.yaml:3:10: plan id \"p!\" is invalid: \(identifierRule)",
    ]),
    ProblemCase(name: "bad model name in prices", text: "version: 1\nprices: { \"gpt 5\": { input: 1, output: 2 } }\n", expected: [
        "p.yaml:2:11: model name \"gpt 5\" in prices is invalid: \(identifierRule)",
    ]),
    ProblemCase(name: "bad tenant tag name",
                text: prefix + "tenants: { t: { plan: p, tags: { \"#x\": { budgets: [] } } } }\n", expected: [
        "p.yaml:4:34: tag name \"#x\" in tenant \"t\" is invalid: \(identifierRule)",
    ]),
    ProblemCase(name: "secret pasted instead of its hash",
                text: base + "keys:\n  - id: k\n    tenant: t\n    sha256: pk_live_do_not_print_me\n", expected: [
        "p.yaml:8:13: field \"sha256\" in key \"k\" must be 64 hexadecimal digits (the SHA-256 of the secret, not the secret itself)",
    ]),
    ProblemCase(name: "numeric secret pasted instead of its hash", text: withKey("previous_sha256: 1234", "previous_valid_until: 2027-01-01T00:00:00Z"), expected: [
        "p.yaml:9:22: field \"previous_sha256\" in key \"k\" must be 64 hexadecimal digits (the SHA-256 of the secret, not the secret itself)",
    ]),
    ProblemCase(name: "tenant name too long",
                text: prefix + "tenants: { t: { name: \(String(repeating: "x", count: 257)), plan: p } }\n", expected: [
        "p.yaml:4:23: field \"name\" in tenant \"t\" must be 1 to 256 bytes of text without control characters, got \"\(String(repeating: "x", count: 64))...\"",
    ]),

    // Models without prices
    ProblemCase(name: "unpriced model in a plan",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [m, gpt-9] } }\n", expected: [
        "p.yaml:3:27: model \"gpt-9\" in plan \"p\" has no price (add it under \"prices\")",
    ]),
    ProblemCase(name: "glob matching no priced model",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [\"claude-*\"] } }\n", expected: [
        "p.yaml:3:24: pattern \"claude-*\" in plan \"p\" matches no model in prices",
    ]),
    ProblemCase(name: "unpriced model in a key", text: withKey("models: [gpt-9]"), expected: [
        "p.yaml:9:14: model \"gpt-9\" in key \"k\" has no price (add it under \"prices\")",
    ]),

    // Rotation
    ProblemCase(name: "previous_valid_until alone", text: withKey("previous_valid_until: 2027-01-01T00:00:00Z"), expected: [
        "p.yaml:9:27: field \"previous_valid_until\" in key \"k\" requires \"previous_sha256\" (the hash of the old secret)",
    ]),
    ProblemCase(name: "previous_sha256 alone", text: withKey("previous_sha256: \(hashB)"), expected: [
        "p.yaml:9:22: field \"previous_sha256\" in key \"k\" requires \"previous_valid_until\" (when the old secret stops working)",
    ]),

    // Periods and counts
    ProblemCase(name: "unknown period",
                text: prefix + "tenants: { t: { plan: p, budgets: [ { period: monthly, cap_micros: 1 } ] } }\n", expected: [
        "p.yaml:4:47: field \"period\" in budget #1 of tenant \"t\" must be one of total, month, day, got \"monthly\" (did you mean \"month\"?)",
    ]),
    ProblemCase(name: "too many budgets",
                text: prefix + "tenants: { t: { plan: p, budgets: [ \(Array(repeating: budgetItem, count: 9).joined(separator: ", ")) ] } }\n",
                expected: [
        "p.yaml:4:35: too many budgets in tenant \"t\": 9 (limit 8)",
    ]),
    ProblemCase(name: "too many model patterns",
                text: "version: 1\nprices: { m: { input: 1, output: 2 } }\nplans: { p: { models: [\(Array(repeating: "m", count: 257).joined(separator: ", "))] } }\n",
                expected: [
        "p.yaml:3:23: too many model patterns in plan \"p\": 257 (limit 256)",
    ]),
    ProblemCase(name: "too many tenant tags",
                text: prefix + "tenants: { t: { plan: p, tags: { \((0...1000).map { "t\($0): { budgets: [] }" }.joined(separator: ", ")) } } }\n",
                expected: [
        "p.yaml:4:26: too many tags in tenant \"t\": 1001 (limit 1000)",
    ]),
]

@Suite struct PolicyProblemTests {
    @Test(arguments: problemCases)
    func reportsExactProblems(_ example: ProblemCase) {
        #expect(problemLines(example.text, fileName: example.fileName) == example.expected)
    }

    @Test func tableCoversEnoughCases() {
        #expect(problemCases.count >= 30)
        #expect(problemCases.allSatisfy { !$0.expected.isEmpty })
    }

    @Test func repeatedKeysInSeveralMappingsAreAllReported() {
        let text = """
            version: 1
            version: 1
            tenants:
              t: { plan: p, plan: p }
              t: { plan: p }
            plans: { p: { models: [m, m] } }
            prices: { m: { input: 1, output: 2, input: 3 } }

            """
        #expect(problemLines(text) == [
            "p.yaml:2:1: duplicate field \"version\" at top level (first at line 1, column 1)",
            "p.yaml:4:17: duplicate field \"plan\" in tenant \"t\" (first at line 4, column 8)",
            "p.yaml:5:3: duplicate tenant \"t\" (first at line 4, column 3)",
            "p.yaml:7:37: duplicate field \"input\" in price \"m\" (first at line 7, column 16)",
        ])
    }

    @Test func repeatedKeyAlongsideASyntaxErrorIsStillReported() {
        // The inner mapping is complete before the syntax error, so its repeat is found; without a
        // tree the later occurrence cannot be located, so the first one is reported instead.
        let text = "version: 1\ntenants:\n  t: { plan: p, plan: p }\nplans: [a\n"
        #expect(problemLines(text) == [
            "p.yaml:3:8: duplicate key \"plan\"",
            "p.yaml:5:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 4, column 8)",
        ])
    }

    @Test func columnsCountUnicodeScalarsAndLineSeparators() {
        // "é" is one column; U+2028 inside a quoted scalar starts a new line for libyaml.
        let text = "version: 1\ntenants: { \"é\": { plan: \"x\u{2028}y\" } }\nbogus: 1\n"
        #expect(problemLines(text) == [
            "p.yaml:2:12: tenant id \"é\" is invalid: \(identifierRule)",
            "p.yaml:2:25: tenant \"é\" references unknown plan \"x\\u{2028}y\"",
            "p.yaml:4:1: unknown field \"bogus\" at top level",
        ])
    }

    @Test func byteOrderMarkIsIgnored() throws {
        let policy = try PolicyParser.parse("\u{FEFF}version: 1\n", fileName: "p.yaml")
        #expect(policy == Policy())
        #expect(problemLines("\u{FEFF}version: 1\nx: 1\n") == ["p.yaml:2:1: unknown field \"x\" at top level"])
    }

    @Test func oversizedTextIsAProblemAtTheStart() {
        let text = "version: 1\n" + String(repeating: "#", count: PolicyLimits.policyFileBytesMax)
        #expect(problemLines(text) == ["p.yaml:1:1: the policy file is larger than the limit of 67108864 bytes"])
    }

    @Test func suggestionsPickTheClosestKnownName() {
        #expect(PolicyText.suggestion(for: "budget", among: ["budgets", "plan"]) == " (did you mean \"budgets\"?)")
        #expect(PolicyText.suggestion(for: "tmp", among: ["rpm", "tpm", "max_inflight"]) == " (did you mean \"tpm\"?)")
        #expect(PolicyText.suggestion(for: "RPM", among: ["rpm", "tpm"]) == " (did you mean \"rpm\"?)")
        #expect(PolicyText.suggestion(for: "colour", among: PolicyValidator.topLevelFields) == "")
    }

    @Test func quotingEscapesAndShortens() {
        #expect(PolicyText.quoted("a\"b\\c\nd\u{7}") == "\"a\\\"b\\\\c\\nd\\u{7}\"")
        #expect(PolicyText.quoted(String(repeating: "z", count: 70)) == "\"" + String(repeating: "z", count: 64) + "...\"")
    }

    /// The validator remembers where each field of a mapping is only for its first 255 pairs; a
    /// field further on is still found (and names the key), and its repeat still points at it.
    @Test func fieldsFarIntoAMappingAreFound() {
        let unknown = (0..<300).map { "    x\($0): 1\n" }.joined()
        let text = base + "keys:\n  - tenant: t\n" + unknown + "    id: k\n    sha256: \(hashA)\n    id: k\n"
        var expected = (0..<300).map { "p.yaml:\(7 + $0):5: unknown field \"x\($0)\" in key \"k\"" }
        expected.append("p.yaml:309:5: duplicate field \"id\" in key \"k\" (first at line 307, column 5)")
        #expect(problemLines(text) == expected)
    }
}
