import Foundation
import Testing
@testable import PurserPolicy

/// Hex strings that are valid SHA-256 digests for tests.
let hashA = String(repeating: "a", count: 64)
let hashB = String(repeating: "b", count: 64)
let hashC = String(repeating: "c", count: 64)
let hashD = String(repeating: "d", count: 64)

/// The problems reported for `text`, as `FILE:LINE:COLUMN: message` strings; empty if it parses.
func problemLines(_ text: String, fileName: String = "p.yaml") -> [String] {
    do {
        _ = try PolicyParser.parse(text, fileName: fileName)
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

func seconds(_ value: Int64) -> Timestamp { Timestamp(secondsSinceEpoch: value) }

let goodYAML = """
    version: 1
    defaults:
      reservation_ttl: 1h30m
      reservation_retention: 2d
    prices:
      gpt-5.4:           { input: 1250000, output: 10000000 }
      gpt-5.4-mini:      { input: 250000,  output: 2_000_000 }
      claude-sonnet-4-6: { input: 3000000, output: 15000000 }
    plans:
      free:
        models: ["gpt-5.4-mini"]
        rate_limits: { rpm: 20, tpm: 40000 }
        budgets: [ { period: month, cap_micros: 5000000 } ]
      pro:
        models: ["*"]
        rate_limits: { rpm: 600, max_inflight: 64 }
    tenants:
      acme:
        name: Acme Corp
        plan: pro
        budgets: [ { period: month, cap_micros: 500000000 }, { period: day, cap_micros: 40000000 } ]
        prepaid: true
        rate_limits: { rpm: 100 }
        tags:
          summarize: { budgets: [ { period: month, cap_micros: 50000000 } ] }
      2024:
        plan: free
    keys:
      - id: key_acme_prod
        tenant: acme
        sha256: "\(hashA)"
        default_tag: acme
        rate_limits: { rpm: 300, tpm: 200000, max_inflight: 16 }
        budgets: [ { period: total, cap_micros: 100000000 } ]
        models: ["gpt-5.4*"]
        expires_at: 2027-06-30T00:00:00Z
        disabled: false
        previous_sha256: "\(hashB.uppercased())"
        previous_valid_until: 2026-12-01T00:00:00Z
      - id: key_small
        tenant: "2024"
        sha256: \(hashC)
        disabled: true
        expires_at: 2026-12-31T23:30:00-05:00
    tags:
      batch-eval: { budgets: [ { period: month, cap_micros: 20000000 } ] }

    """

let goodJSON = """
    {
      "version": 1,
      "defaults": { "reservation_ttl": "1h30m", "reservation_retention": "2d" },
      "prices": {
        "gpt-5.4": { "input": 1250000, "output": 10000000 },
        "gpt-5.4-mini": { "input": 250000, "output": 2000000 },
        "claude-sonnet-4-6": { "input": 3000000, "output": 15000000 }
      },
      "plans": {
        "free": { "models": ["gpt-5.4-mini"], "rate_limits": { "rpm": 20, "tpm": 40000 },
                  "budgets": [ { "period": "month", "cap_micros": 5000000 } ] },
        "pro": { "models": ["*"], "rate_limits": { "rpm": 600, "max_inflight": 64 } }
      },
      "tenants": {
        "acme": {
          "name": "Acme Corp", "plan": "pro",
          "budgets": [ { "period": "month", "cap_micros": 500000000 }, { "period": "day", "cap_micros": 40000000 } ],
          "prepaid": true, "rate_limits": { "rpm": 100 },
          "tags": { "summarize": { "budgets": [ { "period": "month", "cap_micros": 50000000 } ] } }
        },
        "2024": { "plan": "free" }
      },
      "keys": [
        { "id": "key_acme_prod", "tenant": "acme", "sha256": "\(hashA)", "default_tag": "acme",
          "rate_limits": { "rpm": 300, "tpm": 200000, "max_inflight": 16 },
          "budgets": [ { "period": "total", "cap_micros": 100000000 } ], "models": ["gpt-5.4*"],
          "expires_at": "2027-06-30T00:00:00Z", "disabled": false,
          "previous_sha256": "\(hashB)", "previous_valid_until": "2026-12-01T00:00:00Z" },
        { "id": "key_small", "tenant": "2024", "sha256": "\(hashC)", "disabled": true,
          "expires_at": "2026-12-31T23:30:00-05:00" }
      ],
      "tags": { "batch-eval": { "budgets": [ { "period": "month", "cap_micros": 20000000 } ] } }
    }
    """

@Suite struct PolicyParserTests {
    @Test func parsesGoodFileFieldByField() throws {
        let policy = try PolicyParser.parse(goodYAML, fileName: "good.yaml")
        #expect(policy.version == 1)
        #expect(policy.defaults == PolicyDefaults(reservationTTLSeconds: 5_400, reservationRetentionSeconds: 172_800))

        #expect(policy.prices == [
            "gpt-5.4": ModelPrice(inputMicrosPerMillionTokens: 1_250_000, outputMicrosPerMillionTokens: 10_000_000),
            "gpt-5.4-mini": ModelPrice(inputMicrosPerMillionTokens: 250_000, outputMicrosPerMillionTokens: 2_000_000),
            "claude-sonnet-4-6": ModelPrice(inputMicrosPerMillionTokens: 3_000_000, outputMicrosPerMillionTokens: 15_000_000),
        ])

        #expect(policy.plans.count == 2)
        let free = try #require(policy.plans["free"])
        #expect(free.id == "free")
        #expect(free.models.map(\.pattern) == ["gpt-5.4-mini"])
        #expect(free.rateLimits == RateLimits(requestsPerMinute: 20, tokensPerMinute: 40_000, inflightMax: nil))
        #expect(free.budgets == [Budget(period: .month, capMicros: 5_000_000)])
        let pro = try #require(policy.plans["pro"])
        #expect(pro.models.map(\.pattern) == ["*"])
        #expect(pro.rateLimits == RateLimits(requestsPerMinute: 600, tokensPerMinute: nil, inflightMax: 64))
        #expect(pro.budgets == [])

        #expect(policy.tenants.count == 2)
        let acme = try #require(policy.tenants["acme"])
        #expect(acme.id == "acme")
        #expect(acme.name == "Acme Corp")
        #expect(acme.plan == "pro")
        #expect(acme.budgets == [Budget(period: .month, capMicros: 500_000_000), Budget(period: .day, capMicros: 40_000_000)])
        #expect(acme.prepaid)
        #expect(acme.rateLimits == RateLimits(requestsPerMinute: 100))
        #expect(acme.tags == ["summarize": TagPolicy(budgets: [Budget(period: .month, capMicros: 50_000_000)])])
        let numeric = try #require(policy.tenants["2024"])
        #expect(numeric.name == "2024")  // defaults to the id
        #expect(numeric.plan == "free")
        #expect(!numeric.prepaid)
        #expect(numeric.rateLimits == nil)
        #expect(numeric.budgets == [] && numeric.tags == [:])

        #expect(policy.keys.map(\.id) == ["key_acme_prod", "key_small"])
        let prod = policy.keys[0]
        #expect(prod.tenant == "acme")
        #expect(prod.sha256 == KeyHash(hex: hashA))
        #expect(prod.defaultTag == "acme")
        #expect(prod.rateLimits == RateLimits(requestsPerMinute: 300, tokensPerMinute: 200_000, inflightMax: 16))
        #expect(prod.budgets == [Budget(period: .total, capMicros: 100_000_000)])
        #expect(prod.models?.map(\.pattern) == ["gpt-5.4*"])
        #expect(prod.expiresAt == seconds(1_814_313_600))          // 2027-06-30T00:00:00Z
        #expect(!prod.disabled)
        #expect(prod.previousSHA256 == KeyHash(hex: hashB))
        #expect(prod.previousValidUntil == seconds(1_796_083_200))  // 2026-12-01T00:00:00Z
        let small = policy.keys[1]
        #expect(small.tenant == "2024")
        #expect(small.sha256 == KeyHash(hex: hashC))
        #expect(small.defaultTag == nil)
        #expect(small.rateLimits == .unlimited)
        #expect(small.budgets == [])
        #expect(small.models == nil)
        #expect(small.disabled)
        #expect(small.expiresAt == seconds(1_798_777_800))         // 2027-01-01T04:30:00Z
        #expect(small.previousSHA256 == nil && small.previousValidUntil == nil)

        #expect(policy.tags == ["batch-eval": TagPolicy(budgets: [Budget(period: .month, capMicros: 20_000_000)])])
    }

    @Test func jsonParsesToTheSamePolicy() throws {
        let fromYAML = try PolicyParser.parse(goodYAML, fileName: "good.yaml")
        let fromJSON = try PolicyParser.parse(goodJSON, fileName: "good.json")
        #expect(fromJSON == fromYAML)
    }

    @Test func emptyPolicyIsValidWithDefaults() throws {
        let policy = try PolicyParser.parse("version: 1\nplans:\ntenants: {}\nkeys: []\n", fileName: "p.yaml")
        #expect(policy == Policy())
        #expect(PolicyDefaults() == PolicyDefaults(reservationTTLSeconds: 600, reservationRetentionSeconds: 86_400))
    }

    @Test func boundaryValuesAreAccepted() throws {
        let text = """
            version: 1
            defaults: { reservation_ttl: 7d, reservation_retention: 0s }
            prices: { m: { input: 0, output: 1000000000000 } }
            plans: { p: { models: [m], rate_limits: { rpm: 1000000000, tpm: 1000000000000, max_inflight: 1000000 } } }
            tenants: { t: { plan: p, budgets: [ { period: total, cap_micros: 0 }, { period: day, cap_micros: 1000000000000000 } ] } }
            keys: [ { id: k, tenant: t, sha256: \(hashA), expires_at: "2199-12-31T23:59:59.999999999Z" } ]
            """
        let policy = try PolicyParser.parse(text, fileName: "p.yaml")
        #expect(policy.defaults == PolicyDefaults(reservationTTLSeconds: 604_800, reservationRetentionSeconds: 0))
        #expect(policy.tenants["t"]?.budgets.last?.capMicros == PolicyLimits.capMicrosMax)
        #expect(policy.keys.first?.expiresAt?.nanosecondsSinceEpoch == PolicyLimits.timestampSecondsMax * 1_000_000_000 - 1)
    }

    @Test func severalProblemsAreAllReportedInFileOrder() {
        let text = """
            version: 1
            prices:
              m: { input: 1, output: -2 }
            plans:
              p: { models: ["m", "x*"] }
            tenants:
              t: { plan: q, budget: [] }
            keys:
              - id: k
                tenant: nobody
                sha256: "\(hashA)"
                expires_at: tomorrow
              - id: k
                tenant: t
                sha256: "\(hashA)"
            tags:
              "bad tag": { budgets: [] }

            """
        #expect(problemLines(text) == [
            "p.yaml:3:26: field \"output\" in price \"m\" must be between 0 and 1000000000000, got -2",
            "p.yaml:5:22: pattern \"x*\" in plan \"p\" matches no model in prices",
            "p.yaml:7:14: tenant \"t\" references unknown plan \"q\" (did you mean \"p\"?)",
            "p.yaml:7:17: unknown field \"budget\" in tenant \"t\" (did you mean \"budgets\"?)",
            "p.yaml:10:13: key \"k\" references unknown tenant \"nobody\"",
            "p.yaml:12:17: field \"expires_at\" in key \"k\" must be an RFC 3339 timestamp such as \"2027-06-30T00:00:00Z\", got \"tomorrow\"",
            "p.yaml:13:9: duplicate key id \"k\" (first at line 9, column 9)",
            "p.yaml:15:13: duplicate hash: field \"sha256\" in key \"k\" equals field \"sha256\" in key \"k\" (line 11, column 13)",
            "p.yaml:17:3: account tag name \"bad tag\" is invalid: identifiers are 1-128 bytes of letters, digits and _ . : @ / -, starting with a letter, digit or _",
        ])
    }

    @Test func validationErrorDescriptionIsOneProblemPerLine() {
        let error = PolicyValidationError(problems: [
            PolicyProblem(file: "a.yaml", line: 1, column: 2, message: "first"),
            PolicyProblem(file: "a.yaml", line: 3, column: 4, message: "second"),
        ])
        #expect(error.description == "a.yaml:1:2: first\na.yaml:3:4: second")
    }

    @Test func summaryCountsEverything() throws {
        let policy = try PolicyParser.parse(goodYAML, fileName: "good.yaml")
        #expect(PolicySummary(policy).description == "ok: 2 plans, 2 tenants, 2 keys, 3 prices, 1 account tag")
        #expect(PolicySummary(Policy()).description == "ok: 0 plans, 0 tenants, 0 keys, 0 prices, 0 account tags")
    }
}

/// The repository root, found from this file's path (Tests/PurserPolicyTests/<file>).
func repositoryRoot() -> String {
    var components = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
    components.removeLast(3)
    return components.joined(separator: "/")
}

@Suite struct PolicyFileTests {
    @Test func examplePolicyParsesWithExpectedCounts() throws {
        let path = repositoryRoot() + "/examples/policy.yaml"
        let policy = try PolicyParser.parse(contentsOfFile: path)
        #expect(PolicySummary(policy).description == "ok: 3 plans, 6 tenants, 11 keys, 6 prices, 2 account tags")
        #expect(policy.tenants.values.filter(\.prepaid).count == 1)
        #expect(policy.tenants.values.contains { !$0.tags.isEmpty })
        #expect(policy.keys.filter(\.disabled).count == 1)
        #expect(policy.keys.contains { $0.rateLimits.inflightMax != nil })
        #expect(policy.keys.filter { $0.defaultTag != nil }.count >= 3)
        let rotating = try #require(policy.keys.first { $0.previousSHA256 != nil })
        #expect(rotating.previousSHA256 == KeyHash(secret: "pk_demo_globex_main_old"))
        #expect(rotating.previousValidUntil == seconds(1_799_971_200))   // 2027-01-15T00:00:00Z
        #expect(policy.keys.contains { $0.expiresAt == seconds(1_814_313_600) })

        // Each key's hash is the real SHA-256 of the demo secret written above it.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for key in policy.keys {
            let secret = "pk_demo_" + key.id.dropFirst("key_".count)
            #expect(text.contains("# demo secret (example only, never do this in production): \(secret)\n"))
            #expect(key.sha256 == KeyHash(secret: secret), "key \(key.id)")
        }
    }

    private func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("purser-policy-\(UUID().uuidString).yaml").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func readsAFile() throws {
        let path = try temporaryFile(Array("version: 1\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try PolicyParser.parse(contentsOfFile: path) == Policy())
    }

    @Test func fileProblemsUseThePathAsFileName() throws {
        let path = try temporaryFile(Array("version: 2\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: PolicyValidationError.self) { try PolicyParser.parse(contentsOfFile: path) }
        do {
            _ = try PolicyParser.parse(contentsOfFile: path)
        } catch {
            #expect(error.description == "\(path):1:10: unsupported version 2 (this version of Purser reads version 1)")
        }
    }

    @Test func missingFileIsAProblemAtTheStart() {
        do {
            _ = try PolicyParser.parse(contentsOfFile: "/nonexistent/policy.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/policy.yaml:1:1: cannot open the policy file: No such file or directory")
        }
    }

    @Test func directoryIsAProblemAtTheStart() {
        let path = FileManager.default.temporaryDirectory.path
        do {
            _ = try PolicyParser.parse(contentsOfFile: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path):1:1: cannot read the policy file: Is a directory")
        }
    }

    @Test func invalidUTF8IsAProblemAtTheStart() throws {
        let path = try temporaryFile(Array("version: 1\n# caf".utf8) + [0xE9, 0x0A])
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try PolicyParser.parse(contentsOfFile: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path):1:1: the policy file is not valid UTF-8 (first bad byte at offset 16)")
        }
    }

    @Test func oversizedFileIsAProblemAtTheStart() throws {
        let path = try temporaryFile([UInt8](repeating: UInt8(ascii: "#"), count: PolicyLimits.policyFileBytesMax + 1))
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try PolicyParser.parse(contentsOfFile: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path):1:1: the policy file is larger than the limit of 67108864 bytes")
        }
    }

    @Test func fileAtExactlyTheSizeLimitIsRead() throws {
        var bytes = Array("version: 1\n".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "#"), count: PolicyLimits.policyFileBytesMax - bytes.count)
        let path = try temporaryFile(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try PolicyParser.parse(contentsOfFile: path) == Policy())
    }
}
