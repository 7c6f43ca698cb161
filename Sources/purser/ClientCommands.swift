import PurserLedger
import ArgumentParser
import PurserWire

/// Shared by the commands that talk to a running daemon.
enum ClientCall {
    /// Exit code of a successful call.
    static let success: Int32 = 0
    /// Exit code of a failed call: no answer, or an error reply.
    static let failure: Int32 = 1
    /// Exit code of a deny (authorize only).
    static let denied: Int32 = 3

    /// Sends `request`, prints the reply as JSON or as `name=value` text, and returns the reply or
    /// exits 1 on an error.
    static func run(socket: String, request: WireRequest, json: Bool) throws -> WireMessage {
        /// Prints an error as JSON on standard output or as text on standard error, and fails.
        func fail(code: String, message: String) -> ExitCode {
            if json {
                var object = JSONText()
                object.add("error", code)
                object.add("message", message)
                print(object.text)
            } else {
                printError("error: \(code): \(message)")
            }
            return ExitCode(failure)
        }
        let reply: WireMessage
        do {
            reply = try SocketClient(path: socket).send(request)
        } catch {
            throw fail(code: "unreachable", message: "\(error)")
        }
        if reply.type == .error {
            throw fail(code: reply.string("code") ?? "", message: reply.string("message") ?? "")
        }
        if json {
            print(JSONText.object(of: reply).text)
        } else {
            print(text(of: reply))
        }
        return reply
    }

    /// `name=value` pairs in schema order, led by `allowed`/`denied` for an authorize reply.
    static func text(of message: WireMessage) -> String {
        var parts: [String] = []
        if message.type == .authorizeReply {
            parts.append(message.bool("allowed") == true ? "allowed" : "denied")
        }
        for spec in MessageSchema.fields(of: message.type) where spec.name != "allowed" {
            let values = message.values(spec.name)
            guard !values.isEmpty else { continue }
            let rendered = values.map { value -> String in
                switch value {
                case .string(let text): return text
                case .int64(let number): return String(number)
                case .bool(let flag): return flag ? "true" : "false"
                }
            }
            parts.append("\(spec.repeated ? spec.name + "s" : spec.name)=\(rendered.joined(separator: ","))")
        }
        return parts.joined(separator: " ")
    }

    static func printError(_ text: String) {
        var standardError = StandardError()
        print(text, to: &standardError)
    }

    static func randomRequestId(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + String(generator.next() as UInt64, radix: 16)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.writeStandardError(string)
    }
}

struct DataSocketOptions: ParsableArguments {
    @Option(help: "The daemon's data socket.")
    var socket = "./purser.sock"

    @Flag(help: "Print the reply as one JSON object.")
    var json = false
}

struct AdminSocketOptions: ParsableArguments {
    @Option(name: .customLong("admin-socket"), help: "The daemon's admin socket.")
    var adminSocket = "./purser-admin.sock"

    @Flag(help: "Print the reply as one JSON object.")
    var json = false
}

struct AuthorizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authorize",
        abstract: "Ask whether a request may go ahead, reserving its estimated cost.",
        discussion: "Exit status: 0 allowed, 3 denied, 1 error."
    )

    @OptionGroup var connection: DataSocketOptions
    @Option(help: "The API key secret, as the customer sent it.") var key: String
    @Option(help: "The model name.") var model: String
    @Option(name: .customLong("estimate-micros"), help: "The estimated cost in micros.") var estimateMicros: Int64?
    @Option(name: .customLong("input-tokens"), help: "Input tokens, priced from the catalog.") var inputTokens: Int64?
    @Option(name: .customLong("max-output-tokens"), help: "Maximum output tokens, priced from the catalog.") var maxOutputTokens: Int64?
    @Option(name: .customLong("tag"), help: "A cost tag; repeat for several.") var tags: [String] = []
    @Option(name: .customLong("request-id"), help: "Idempotency key; a retry with the same id gets the first answer. Default: random.")
    var requestId: String?

    func validate() throws {
        let tokens = inputTokens != nil || maxOutputTokens != nil
        guard (estimateMicros != nil) != tokens, (inputTokens == nil) == (maxOutputTokens == nil) else {
            throw ValidationError("give --estimate-micros, or both --input-tokens and --max-output-tokens")
        }
    }

    func run() throws {
        let reply = try ClientCall.run(socket: connection.socket, request: .authorize(AuthorizeFields(
            key: key, model: model, tags: tags, estimateMicros: estimateMicros, inputTokens: inputTokens,
            maxOutputTokens: maxOutputTokens, requestId: requestId ?? ClientCall.randomRequestId(prefix: "cli-")
        )), json: connection.json)
        if reply.bool("allowed") != true {
            throw ExitCode(ClientCall.denied)
        }
    }
}

struct SettleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Charge the actual cost of an allowed request. Answered once durable on disk."
    )

    @OptionGroup var connection: DataSocketOptions
    @Option(help: "The reservation id from authorize.") var reservation: String
    @Option(name: .customLong("cost-micros"), help: "The actual cost in micros.") var costMicros: Int64?
    @Option(name: .customLong("input-tokens"), help: "Actual input tokens.") var inputTokens: Int64?
    @Option(name: .customLong("output-tokens"), help: "Actual output tokens.") var outputTokens: Int64?
    @Option(help: "ok, error or cancelled.") var status = "ok"
    @Option(help: "Upstream retries, recorded in the ledger.") var retries: Int64 = 0

    func validate() throws {
        let tokens = inputTokens != nil || outputTokens != nil
        guard (costMicros != nil) != tokens, (inputTokens == nil) == (outputTokens == nil) else {
            throw ValidationError("give --cost-micros, or both --input-tokens and --output-tokens")
        }
    }

    func run() throws {
        _ = try ClientCall.run(socket: connection.socket, request: .settle(SettleFields(
            reservation: reservation, costMicros: costMicros, inputTokens: inputTokens, outputTokens: outputTokens,
            status: status, retries: retries
        )), json: connection.json)
    }
}

struct ReleaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "release", abstract: "Free a reservation without charge.")

    @OptionGroup var connection: DataSocketOptions
    @Option(help: "The reservation id from authorize.") var reservation: String

    func run() throws {
        _ = try ClientCall.run(socket: connection.socket, request: .release(reservation: reservation), json: connection.json)
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the policy file; an invalid file is refused and the running policy stays."
    )

    @OptionGroup var connection: AdminSocketOptions

    func run() throws {
        _ = try ClientCall.run(socket: connection.adminSocket, request: .reload, json: connection.json)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the daemon's policy, connections and counters.")

    @OptionGroup var connection: AdminSocketOptions

    func run() throws {
        _ = try ClientCall.run(socket: connection.adminSocket, request: .status, json: connection.json)
    }
}

struct CreditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credit",
        abstract: "Add to a tenant's prepaid balance. Answered once durable on disk."
    )

    @OptionGroup var connection: AdminSocketOptions
    @Option(help: "The tenant id.") var tenant: String
    @Option(help: "Micros to add (1 USD = 1,000,000).") var micros: Int64
    @Option(help: "A note kept in the ledger.") var memo: String
    @Option(name: .customLong("request-id"), help: "Idempotency key; scripts should pass one so a retry cannot credit twice. Default: random.")
    var requestId: String?

    func run() throws {
        _ = try ClientCall.run(socket: connection.adminSocket, request: .credit(CreditFields(
            tenant: tenant, micros: micros, memo: memo, requestId: requestId ?? ClientCall.randomRequestId(prefix: "credit-")
        )), json: connection.json)
    }
}
