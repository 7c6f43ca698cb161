import ArgumentParser
import PurserPolicy

/// `purser check-policy FILE`: validates a policy file without touching any state.
struct CheckPolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-policy",
        abstract: "Validate a policy file.",
        discussion: "Prints every problem as FILE:LINE:COLUMN: message and exits 1, or prints a one-line summary and exits 0."
    )

    @Argument(help: "The policy file (YAML or JSON).")
    var file: String

    func run() throws {
        do {
            let policy = try PolicyParser.parse(contentsOfFile: file)
            print(PolicySummary(policy).description)
        } catch {
            for problem in error.problems {
                print(problem.description)
            }
            throw ExitCode(1)
        }
    }
}
