/// The fields of an authorize request.
public struct AuthorizeFields: Hashable, Sendable {
    public var key: String
    public var model: String
    public var tags: [String]
    public var estimateMicros: Int64?
    public var inputTokens: Int64?
    public var maxOutputTokens: Int64?
    public var requestId: String

    public init(
        key: String, model: String, tags: [String] = [], estimateMicros: Int64? = nil, inputTokens: Int64? = nil,
        maxOutputTokens: Int64? = nil, requestId: String
    ) {
        self.key = key
        self.model = model
        self.tags = tags
        self.estimateMicros = estimateMicros
        self.inputTokens = inputTokens
        self.maxOutputTokens = maxOutputTokens
        self.requestId = requestId
    }
}

/// The fields of a settle request.
public struct SettleFields: Hashable, Sendable {
    public var reservation: String
    public var costMicros: Int64?
    public var inputTokens: Int64?
    public var outputTokens: Int64?
    /// `ok`, `error` or `cancelled`; checked by the server, which answers `bad_request` otherwise.
    public var status: String
    public var retries: Int64

    public init(
        reservation: String, costMicros: Int64? = nil, inputTokens: Int64? = nil, outputTokens: Int64? = nil,
        status: String = "ok", retries: Int64 = 0
    ) {
        self.reservation = reservation
        self.costMicros = costMicros
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.status = status
        self.retries = retries
    }
}

/// The fields of a credit request.
public struct CreditFields: Hashable, Sendable {
    public var tenant: String
    public var micros: Int64
    public var memo: String
    public var requestId: String

    public init(tenant: String, micros: Int64, memo: String = "", requestId: String) {
        self.tenant = tenant
        self.micros = micros
        self.memo = memo
        self.requestId = requestId
    }
}

/// The fields of a usage query (admin socket).
public struct UsageFields: Hashable, Sendable {
    public var tenant: String?
    public var key: String?
    public var tag: String?
    /// UTC days, `YYYY-MM-DD`, both included.
    public var from: String
    public var to: String
    /// Breakdowns: `tenant`, `key`, `model`, `day`, `tag`.
    public var by: [String]

    public init(tenant: String? = nil, key: String? = nil, tag: String? = nil, from: String, to: String, by: [String] = []) {
        self.tenant = tenant
        self.key = key
        self.tag = tag
        self.from = from
        self.to = to
        self.by = by
    }
}

/// A request, typed. Converting from a `WireMessage` applies the rules the schema alone cannot
/// express (an estimate must be micros or a pair of token counts).
public enum WireRequest: Hashable, Sendable {
    case authorize(AuthorizeFields)
    case settle(SettleFields)
    case release(reservation: String)
    case ping
    case reload
    case credit(CreditFields)
    case status
    case usage(UsageFields)

    public var type: MessageType {
        switch self {
        case .authorize: return .authorize
        case .settle: return .settle
        case .release: return .release
        case .ping: return .ping
        case .reload: return .reload
        case .credit: return .credit
        case .status: return .status
        case .usage: return .usage
        }
    }

    /// Decodes a request payload; a reply type sent to the server is `unknown_type`.
    public init(payload: some RandomAccessCollection<UInt8>) throws(WireError) {
        self = try WireCodec.withContiguousBytes(payload) { bytes in Result { () throws(WireError) in try WireRequest(bytes: bytes) } }.get()
    }

    /// Decodes a request payload in place (the daemon's receive buffer).
    public init(bytes: UnsafeRawBufferPointer) throws(WireError) {
        // A reply type is refused as such before its fields are judged by the reply's schema (a
        // reply missing a required field must still be `unknown_type`, as docs/protocol.md says).
        if bytes.count >= WireLimits.headerBytes, bytes[0] == WireLimits.protocolVersion,
           let type = MessageType(rawValue: bytes[1]), !type.isRequest {
            throw WireError(.unknownType, "\(type.name) is a reply, not a request")
        }
        try self.init(message: try WireCodec.decode(bytes: bytes))
    }

    public init(message: WireMessage) throws(WireError) {
        switch message.type {
        case .authorize:
            let input = message.int64("input_tokens")
            let output = message.int64("max_output_tokens")
            guard (input == nil) == (output == nil) else {
                throw WireError(.malformedField, "authorize needs both input_tokens and max_output_tokens, or neither")
            }
            guard (message.int64("estimate_micros") != nil) != (input != nil) else {
                throw WireError(.malformedField, "authorize needs exactly one of estimate_micros, or input_tokens with max_output_tokens")
            }
            self = .authorize(AuthorizeFields(
                key: message.string("key")!, model: message.string("model")!, tags: message.strings("tag"),
                estimateMicros: message.int64("estimate_micros"), inputTokens: input, maxOutputTokens: output,
                requestId: message.string("request_id")!
            ))
        case .settle:
            let input = message.int64("input_tokens")
            let output = message.int64("output_tokens")
            guard (input == nil) == (output == nil) else {
                throw WireError(.malformedField, "settle needs both input_tokens and output_tokens, or neither")
            }
            guard (message.int64("cost_micros") != nil) != (input != nil) else {
                throw WireError(.malformedField, "settle needs exactly one of cost_micros, or input_tokens with output_tokens")
            }
            self = .settle(SettleFields(
                reservation: message.string("reservation")!, costMicros: message.int64("cost_micros"), inputTokens: input,
                outputTokens: output, status: message.string("status") ?? "ok", retries: message.int64("retries") ?? 0
            ))
        case .release:
            self = .release(reservation: message.string("reservation")!)
        case .ping:
            self = .ping
        case .reload:
            self = .reload
        case .status:
            self = .status
        case .usage:
            self = .usage(UsageFields(
                tenant: message.string("tenant"), key: message.string("key"), tag: message.string("tag"),
                from: message.string("from")!, to: message.string("to")!, by: message.strings("by")
            ))
        case .credit:
            self = .credit(CreditFields(
                tenant: message.string("tenant")!, micros: message.int64("micros")!, memo: message.string("memo") ?? "",
                requestId: message.string("request_id")!
            ))
        default:
            throw WireError(.unknownType, "\(message.type.name) is a reply, not a request")
        }
    }

    /// The request as a generic message, for clients to encode.
    public func message(correlationId: UInt64) -> WireMessage {
        var message = WireMessage(type: type, correlationId: correlationId)
        switch self {
        case .authorize(let fields):
            message.set("key", fields.key)
            message.set("model", fields.model)
            message.set("tag", fields.tags)
            message.set("estimate_micros", fields.estimateMicros)
            message.set("input_tokens", fields.inputTokens)
            message.set("max_output_tokens", fields.maxOutputTokens)
            message.set("request_id", fields.requestId)
        case .settle(let fields):
            message.set("reservation", fields.reservation)
            message.set("cost_micros", fields.costMicros)
            message.set("input_tokens", fields.inputTokens)
            message.set("output_tokens", fields.outputTokens)
            message.set("status", fields.status)
            message.set("retries", fields.retries)
        case .release(let reservation):
            message.set("reservation", reservation)
        case .credit(let fields):
            message.set("tenant", fields.tenant)
            message.set("micros", fields.micros)
            message.set("memo", fields.memo)
            message.set("request_id", fields.requestId)
        case .usage(let fields):
            message.set("tenant", fields.tenant)
            message.set("key", fields.key)
            message.set("tag", fields.tag)
            message.set("from", fields.from)
            message.set("to", fields.to)
            message.set("by", fields.by)
        case .ping, .reload, .status:
            break
        }
        return message
    }
}
