import Foundation
import PurserPolicy
import Testing

@Suite struct PolicyCommandTests {
    @Test func checkPolicyAcceptsTheExampleWithASummary() throws {
        let result = try PurserProcess.run(["check-policy", "examples/policy.yaml"])
        #expect(result.status == 0)
        #expect(result.standardOutput == "ok: 3 plans, 6 tenants, 11 keys, 6 prices, 2 account tags\n")
    }

    @Test func checkPolicyPrintsEveryProblemWithFileLineColumnAndExitsOne() throws {
        let path = try PurserProcess.temporaryFile(named: "broken.yaml", contents: """
            version: 1
            plans:
              free: { models: ["gpt-5.4-mini"], budgets: [ { period: month, cap_micros: -5 } ] }
            tenants:
              acme: { plan: pro }
            keys:
              - id: k1
                tenant: acme
                sha256: "\(KeyHash(secret: "s").hex)"
                expires: 2027-01-01T00:00:00Z
            """)
        let result = try PurserProcess.run(["check-policy", path])
        #expect(result.status == 1)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(lines)")
        // Every line names the file, a line and a column.
        for line in lines {
            #expect(line.hasPrefix(path + ":"), "\(line)")
            let parts = line.dropFirst(path.count + 1).split(separator: ":", maxSplits: 2)
            #expect(parts.count == 3 && Int(parts[0]) != nil && Int(parts[1]) != nil, "\(line)")
        }
        #expect(lines.contains { $0.hasPrefix("\(path):3:") && $0.contains("cap_micros") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("\(path):5:") && $0.contains("unknown plan \"pro\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("\(path):10:5:") && $0.contains("unknown field \"expires\"") }, "\(lines)")
    }

    @Test func checkPolicyReportsAMissingFileAtLineOne() throws {
        let result = try PurserProcess.run(["check-policy", "/nonexistent/policy.yaml"])
        #expect(result.status == 1)
        #expect(result.standardOutput.hasPrefix("/nonexistent/policy.yaml:1:1: "))
    }

    @Test func mintPrintsASecretOnceWithAnEntryHoldingOnlyItsHash() throws {
        let result = try PurserProcess.run(["keys", "mint", "--tenant", "acme", "--id", "key_acme_new"])
        #expect(result.status == 0)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        let secret = try #require(lines.first)
        #expect(secret.hasPrefix("purser_"))
        #expect(secret.count == "purser_".count + 40)
        #expect(secret.dropFirst(7).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(lines.contains("  - id: key_acme_new"))
        #expect(lines.contains("    tenant: acme"))
        #expect(lines.contains("    sha256: \"\(KeyHash(secret: secret).hex)\""))
        // The secret appears exactly once: on its own line, nowhere else.
        #expect(result.standardOutput.components(separatedBy: secret).count == 2)
        #expect(!result.standardError.contains(secret))
    }

    @Test func mintedSecretsDiffer() throws {
        let first = try PurserProcess.run(["keys", "mint", "--tenant", "acme", "--json"])
        let second = try PurserProcess.run(["keys", "mint", "--tenant", "acme", "--json"])
        let decoded = try [first, second].map { result in
            try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as! [String: String]
        }
        #expect(decoded[0]["secret"] != decoded[1]["secret"])
        #expect(decoded[0]["id"] != decoded[1]["id"])
        for object in decoded {
            #expect(object["sha256"] == KeyHash(secret: object["secret"]!).hex)
            #expect(object["tenant"] == "acme")
        }
    }

    @Test func mintChecksTheTenantAgainstAPolicy() throws {
        let result = try PurserProcess.run(["keys", "mint", "--tenant", "nobody", "--policy", "examples/policy.yaml"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("tenant \"nobody\" is not in examples/policy.yaml"))
        #expect(result.standardOutput.isEmpty)
    }
}
