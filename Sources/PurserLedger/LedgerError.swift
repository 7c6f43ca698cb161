/// Problems of the ledger that are not SQLite's.
public enum LedgerError: Error, Equatable, CustomStringConvertible {
    /// The outbox skipped sequences: events were lost between LMDB and the ledger.
    case sequenceGap(expected: UInt64, found: UInt64)
    case invalidQuery(String)

    public var description: String {
        switch self {
        case .sequenceGap(let expected, let found):
            return "ledger sequence gap: expected event \(expected), found \(found); events were lost between the outbox and the ledger"
        case .invalidQuery(let reason):
            return reason
        }
    }
}
