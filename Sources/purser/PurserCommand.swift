import ArgumentParser

@main
struct PurserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purser",
        abstract: "A local policy decision daemon for AI products: per-customer keys, spend caps, rate limits and usage.",
        subcommands: [
            ServeCommand.self, AuthorizeCommand.self, SettleCommand.self, ReleaseCommand.self,
            ReloadCommand.self, StatusCommand.self, CreditCommand.self, StateCommand.self,
            UsageCommand.self, InvoiceCommand.self, ReconcileCommand.self, BenchCommand.self,
            CheckPolicyCommand.self, KeysCommand.self,
        ]
    )
}
