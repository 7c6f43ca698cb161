/// The fields of every message type: the table behind docs/protocol.md. Decoding validates
/// against it; encoding writes fields in its (ascending tag) order.
public enum MessageSchema {
    static let identifier = FieldKind.string(bytesMax: 128)
    static let short = FieldKind.string(bytesMax: 64)
    static let text = FieldKind.string(bytesMax: 65_535)

    /// The fields of `type`, in ascending tag order. Built once per type: the daemon asks for a
    /// schema for every message it decodes or encodes.
    public static func fields(of type: MessageType) -> [FieldSpec] {
        table[Int(type.rawValue)]
    }

    /// Where the field `name` sits in the schema of `type`. Names are short ASCII literals, so a
    /// scan is cheaper than hashing one; it compares byte counts first because most names differ
    /// in length, and comparing two different strings costs Swift a Unicode-aware slow path
    /// (callgrind: by name, this scan was 6% of an authorize's instructions in the daemon).
    static func index(of name: String, in type: MessageType) -> Int? {
        let row = Int(type.rawValue)
        let specs = table[row]
        let byteCounts = nameByteCounts[row]
        let byteCount = name.utf8.count
        for index in specs.indices where byteCounts[index] == byteCount && specs[index].name == name {
            return index
        }
        return nil
    }

    /// Where the field with `tag` sits in the schema of `type`. Every schema numbers its tags
    /// 1, 2, 3, ... so the tag usually is the position; the scan covers any gap.
    static func index(ofTag tag: UInt16, in type: MessageType) -> Int? {
        let specs = table[Int(type.rawValue)]
        let guess = Int(tag) - 1
        if guess >= 0 && guess < specs.count && specs[guess].tag == tag { return guess }
        return specs.firstIndex { $0.tag == tag }
    }

    /// Every schema, indexed by the type byte (empty for bytes that are no type).
    private static let table: [[FieldSpec]] = (0...255).map { byte in
        MessageType(rawValue: UInt8(byte)).map(build) ?? []
    }

    /// `table`'s field names' UTF-8 byte counts, row by row.
    private static let nameByteCounts: [[Int]] = table.map { specs in specs.map { $0.name.utf8.count } }

    private static func build(_ type: MessageType) -> [FieldSpec] {
        switch type {
        case .authorize:
            return [
                FieldSpec(1, "key", .string(bytesMax: WireLimits.keySecretBytesMax), required: true),
                FieldSpec(2, "model", identifier, required: true),
                FieldSpec(3, "tag", identifier, repeated: true),
                FieldSpec(4, "estimate_micros", .int64),
                FieldSpec(5, "input_tokens", .int64),
                FieldSpec(6, "max_output_tokens", .int64),
                FieldSpec(7, "request_id", identifier, required: true),
            ]
        case .authorizeReply:
            return [
                FieldSpec(1, "allowed", .bool, required: true),
                FieldSpec(2, "reason", short),
                FieldSpec(3, "status", .int64),
                FieldSpec(4, "reservation", identifier),
                FieldSpec(5, "tenant", identifier),
                FieldSpec(6, "key_id", identifier),
                FieldSpec(7, "tag", identifier, repeated: true),
                FieldSpec(8, "estimate_micros", .int64),
                FieldSpec(9, "expires_at_ms", .int64),
                FieldSpec(10, "remaining_micros", .int64),
                FieldSpec(11, "scope", .string(bytesMax: 300)),
                FieldSpec(12, "period", short),
                FieldSpec(13, "cap_micros", .int64),
                FieldSpec(14, "retry_after_ms", .int64),
                FieldSpec(15, "requests_remaining", .int64),
                FieldSpec(16, "tokens_remaining", .int64),
                FieldSpec(17, "detail", text),
                FieldSpec(18, "replayed", .bool),
            ]
        case .settle:
            return [
                FieldSpec(1, "reservation", identifier, required: true),
                FieldSpec(2, "cost_micros", .int64),
                FieldSpec(3, "input_tokens", .int64),
                FieldSpec(4, "output_tokens", .int64),
                FieldSpec(5, "status", short),
                FieldSpec(6, "retries", .int64),
            ]
        case .settleReply:
            return [
                FieldSpec(1, "reservation", identifier, required: true),
                FieldSpec(2, "cost_micros", .int64),
                FieldSpec(3, "input_tokens", .int64),
                FieldSpec(4, "output_tokens", .int64),
                FieldSpec(5, "status", short),
                FieldSpec(6, "retries", .int64),
                FieldSpec(7, "overdraft_micros", .int64),
                FieldSpec(8, "late", .bool),
                FieldSpec(9, "replayed", .bool),
                FieldSpec(10, "settled_at_ms", .int64),
            ]
        case .release:
            return [FieldSpec(1, "reservation", identifier, required: true)]
        case .releaseReply:
            return [
                FieldSpec(1, "reservation", identifier, required: true),
                FieldSpec(2, "state", short),
                FieldSpec(3, "replayed", .bool),
            ]
        case .ping, .reload, .status:
            return []
        case .pong:
            return [FieldSpec(1, "server_version", short), FieldSpec(2, "policy_version", short)]
        case .reloadReply:
            return [
                FieldSpec(1, "policy_version", short),
                FieldSpec(2, "plans", .int64),
                FieldSpec(3, "tenants", .int64),
                FieldSpec(4, "keys", .int64),
                FieldSpec(5, "duration_us", .int64),
            ]
        case .credit:
            return [
                FieldSpec(1, "tenant", identifier, required: true),
                FieldSpec(2, "micros", .int64, required: true),
                FieldSpec(3, "memo", .string(bytesMax: 512)),
                FieldSpec(4, "request_id", identifier, required: true),
            ]
        case .creditReply:
            return [
                FieldSpec(1, "tenant", identifier, required: true),
                FieldSpec(2, "balance_micros", .int64),
                FieldSpec(3, "credited_micros", .int64),
                FieldSpec(4, "replayed", .bool),
            ]
        case .statusReply:
            return [
                FieldSpec(1, "server_version", short),
                FieldSpec(2, "policy_version", short),
                FieldSpec(3, "policy_loaded_at_ms", .int64),
                FieldSpec(4, "plans", .int64),
                FieldSpec(5, "tenants", .int64),
                FieldSpec(6, "keys", .int64),
                FieldSpec(7, "uptime_ms", .int64),
                FieldSpec(8, "connections", .int64),
                FieldSpec(9, "outbox_depth", .int64),
                FieldSpec(10, "expired_total", .int64),
                FieldSpec(11, "batches_committed", .int64),
                FieldSpec(12, "operations_committed", .int64),
                FieldSpec(13, "syncs", .int64),
                FieldSpec(14, "ledger_high_water", .int64),
                FieldSpec(15, "ledger_lag_ms", .int64),
                FieldSpec(16, "batch_size_histogram", .int64, repeated: true),
                FieldSpec(17, "checkpoints", .int64),
            ]
        case .usage:
            return [
                FieldSpec(1, "tenant", identifier),
                FieldSpec(2, "key", identifier),
                FieldSpec(3, "tag", identifier),
                FieldSpec(4, "from", short, required: true),
                FieldSpec(5, "to", short, required: true),
                FieldSpec(6, "by", short, repeated: true),
            ]
        case .usageReply:
            return [FieldSpec(1, "json", text, repeated: true)]
        case .error:
            return [FieldSpec(1, "code", short, required: true), FieldSpec(2, "message", text)]
        }
    }
}
