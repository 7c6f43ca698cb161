import ArgumentParser
import PurserPolicy

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage API keys.",
        subcommands: [KeysMintCommand.self]
    )
}

/// `purser keys mint`: makes a new secret and prints it exactly once, with the policy entry that
/// holds only its SHA-256. Purser never stores, logs or prints the secret anywhere else.
struct KeysMintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mint",
        abstract: "Mint a new API key secret and print the policy entry for it.",
        discussion: """
            The secret is printed once, on the first line of standard output, and is not kept anywhere. \
            Paste the YAML entry under `keys:` in the policy file and reload.
            """
    )

    @Option(help: "The tenant the key belongs to.")
    var tenant: String

    @Option(help: "The key id (default: key_<tenant>_<8 random hex digits>).")
    var id: String?

    @Option(help: "A policy file in which the tenant must exist, and the id must be new.")
    var policy: String?

    @Flag(help: "Print a JSON object instead.")
    var json = false

    /// The secret's recognizable prefix, so that secret scanners and humans can spot a leaked key.
    static let secretPrefix = "purser_"
    /// 40 base-62 characters carry 40 × log2(62) ≈ 238 bits of entropy.
    static let secretRandomCharactersCount = 40

    func validate() throws {
        guard Identifier.isValid(tenant) else {
            throw ValidationError("--tenant must be \(Identifier.ruleDescription)")
        }
        if let id, !Identifier.isValid(id) {
            throw ValidationError("--id must be \(Identifier.ruleDescription)")
        }
    }

    func run() throws {
        var generator = SystemRandomNumberGenerator()
        let suffix = String(generator.next() as UInt32, radix: 16)
        let keyId = id ?? "key_\(tenant)_" + String(repeating: "0", count: 8 - suffix.count) + suffix
        if let policy {
            let loaded: Policy
            do {
                loaded = try PolicyParser.parse(contentsOfFile: policy)
            } catch {
                throw ValidationError("\(policy) is not a valid policy:\n" + error.problems.map(\.description).joined(separator: "\n"))
            }
            guard loaded.tenants[tenant] != nil else {
                throw ValidationError("tenant \"\(tenant)\" is not in \(policy)")
            }
            guard !loaded.keys.contains(where: { $0.id == keyId }) else {
                throw ValidationError("key id \"\(keyId)\" is already in \(policy)")
            }
        }
        let secret = Self.makeSecret(using: &generator)
        let hash = KeyHash(secret: secret)
        if json {
            print(#"{"id":"\#(keyId)","tenant":"\#(tenant)","secret":"\#(secret)","sha256":"\#(hash.hex)"}"#)
            return
        }
        print(secret)
        print("""
            # The line above is the secret. It is shown once and is not stored anywhere: hand it to the customer now.
            # Paste this entry under `keys:` in the policy file, then reload:
              - id: \(keyId)
                tenant: \(tenant)
                sha256: "\(hash.hex)"
            """)
    }

    /// Uniform base-62 characters from the system's cryptographically secure generator.
    static func makeSecret(using generator: inout some RandomNumberGenerator) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var characters: [UInt8] = []
        while characters.count < secretRandomCharactersCount {
            let byte = UInt8.random(in: 0...255, using: &generator)
            // Rejecting bytes from 248 up keeps every character equally likely (248 = 4 × 62).
            if byte < 248 { characters.append(alphabet[Int(byte % 62)]) }
        }
        return secretPrefix + String(decoding: characters, as: UTF8.self)
    }
}
