/// The one syntax for names that appear in policy files and on the wire: key ids, tenant ids,
/// plan ids, tag names and model names.
///
/// 1 to `PolicyLimits.identifierBytesMax` bytes of `A-Z a-z 0-9 _ . : @ / -`, not starting with
/// a punctuation character other than `_`. Keeping names to this set means they can be written
/// into logs, CSV files and LMDB keys without quoting, and never contain a separator byte.
public enum Identifier {
    // Inlinable so that callers in other modules (the store checks every request's names) get a
    // specialized copy instead of a generic call that looks up type metadata on each use.
    @inlinable
    public static func isValid(_ name: some StringProtocol) -> Bool {
        isValid(utf8: name.utf8)
    }

    @inlinable
    public static func isValid(utf8: some Collection<UInt8>) -> Bool {
        guard !utf8.isEmpty, utf8.count <= PolicyLimits.identifierBytesMax else { return false }
        var first = true
        for byte in utf8 {
            let alphanumeric = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            if alphanumeric || byte == UInt8(ascii: "_") {
                first = false
                continue
            }
            if first { return false }
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// The rule in words, for error messages.
    public static let ruleDescription =
        "1-\(PolicyLimits.identifierBytesMax) bytes of letters, digits and _ . : @ / -, starting with a letter, digit or _"
}
