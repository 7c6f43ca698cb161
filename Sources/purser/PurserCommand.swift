import ArgumentParser

@main
struct PurserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purser",
        abstract: "A local policy decision daemon for AI products: per-customer keys, spend caps, rate limits and usage.",
        subcommands: [CheckPolicyCommand.self, KeysCommand.self]
    )
}
