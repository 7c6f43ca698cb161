/// Encodes and decodes protocol v1 frames. Pure functions over bytes: no I/O, no allocation
/// driven by untrusted lengths beyond the payload already in hand.
public enum WireCodec {
    /// Reads the 4-byte length prefix and refuses a payload larger than `frameBytesMax` or
    /// smaller than a header, before the caller reads or allocates anything for it.
    public static func payloadLength(prefix: some Collection<UInt8>, frameBytesMax: Int) throws(WireError) -> Int {
        precondition(prefix.count == WireLimits.lengthPrefixBytes)
        let length = prefix.reduce(0) { $0 << 8 | Int($1) }
        guard length <= frameBytesMax else {
            throw WireError(.frameTooLarge, "frame of \(length) bytes exceeds frameBytesMax of \(frameBytesMax)")
        }
        guard length >= WireLimits.headerBytes else {
            throw WireError(.malformedFrame, "payload of \(length) bytes is shorter than the \(WireLimits.headerBytes)-byte header")
        }
        return length
    }

    /// The correlation id of a payload, or 0 if the payload is too short to hold one; used to
    /// address an error reply to a payload that failed to decode.
    public static func correlationId(ofPayload payload: some RandomAccessCollection<UInt8>) -> UInt64 {
        guard payload.count >= WireLimits.headerBytes else { return 0 }
        return payload.dropFirst(2).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Decodes one payload (the bytes after the length prefix).
    public static func decode(payload: some RandomAccessCollection<UInt8>) throws(WireError) -> WireMessage {
        let bytes = Array(payload)
        guard bytes.count >= WireLimits.headerBytes else {
            throw WireError(.malformedFrame, "payload of \(bytes.count) bytes is shorter than the \(WireLimits.headerBytes)-byte header")
        }
        guard bytes[0] == WireLimits.protocolVersion else {
            throw WireError(.unsupportedVersion, "protocol version \(bytes[0]) is not supported; this server speaks version \(WireLimits.protocolVersion)")
        }
        guard let type = MessageType(rawValue: bytes[1]) else {
            throw WireError(.unknownType, "unknown message type 0x\(String(bytes[1], radix: 16))")
        }
        var message = WireMessage(type: type, correlationId: correlationId(ofPayload: bytes))
        let specs = MessageSchema.fields(of: type)
        var offset = WireLimits.headerBytes
        while offset < bytes.count {
            guard bytes.count - offset >= WireLimits.fieldHeaderBytes else {
                throw WireError(.malformedFrame, "a field header is cut off at byte \(offset)")
            }
            let tag = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let start = offset + WireLimits.fieldHeaderBytes
            guard bytes.count - start >= length else {
                throw WireError(.malformedFrame, "field \(tag) of \(length) bytes overruns the payload")
            }
            offset = start + length
            // Unknown tags are skipped: that is how newer peers add fields.
            guard let spec = specs.first(where: { $0.tag == tag }) else { continue }
            if !spec.repeated, message.fields[spec.name] != nil {
                throw WireError(.malformedField, "\(spec.name) appears twice in \(type.name)")
            }
            let value = try decodeValue(bytes[start..<offset], spec: spec, type: type)
            message.fields[spec.name, default: []].append(value)
        }
        for spec in specs where spec.required && message.fields[spec.name] == nil {
            throw WireError(.malformedField, "\(type.name) needs \(spec.name)")
        }
        return message
    }

    private static func decodeValue(_ value: ArraySlice<UInt8>, spec: FieldSpec, type: MessageType) throws(WireError) -> FieldValue {
        switch spec.kind {
        case .string(let bytesMax):
            guard value.count <= bytesMax else {
                throw WireError(.malformedField, "\(spec.name) of \(value.count) bytes exceeds \(bytesMax)")
            }
            guard let string = String(validating: value, as: UTF8.self) else {
                throw WireError(.malformedField, "\(spec.name) is not valid UTF-8")
            }
            return .string(string)
        case .int64:
            guard value.count == 8 else {
                throw WireError(.malformedField, "\(spec.name) must be 8 bytes, got \(value.count)")
            }
            return .int64(Int64(bitPattern: value.reduce(0) { $0 << 8 | UInt64($1) }))
        case .bool:
            guard value.count == 1, value.first! <= 1 else {
                throw WireError(.malformedField, "\(spec.name) must be one byte, 0 or 1")
            }
            return .bool(value.first! == 1)
        }
    }

    /// Encodes a message as a whole frame, length prefix included, fields in ascending tag order.
    /// Strings longer than their field allows are cut at a character boundary, so every frame this
    /// writes is one its peer accepts.
    public static func encode(_ message: WireMessage) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 0, 0, WireLimits.protocolVersion, message.type.rawValue]
        bytes.reserveCapacity(128)
        appendBigEndian(message.correlationId, byteCount: 8, to: &bytes)
        for spec in MessageSchema.fields(of: message.type) {
            for value in message.fields[spec.name] ?? [] {
                appendBigEndian(UInt64(spec.tag), byteCount: 2, to: &bytes)
                switch value {
                case .string(let string):
                    let utf8 = truncated(string, spec: spec)
                    appendBigEndian(UInt64(utf8.count), byteCount: 2, to: &bytes)
                    bytes.append(contentsOf: utf8)
                case .int64(let integer):
                    appendBigEndian(8, byteCount: 2, to: &bytes)
                    appendBigEndian(UInt64(bitPattern: integer), byteCount: 8, to: &bytes)
                case .bool(let flag):
                    appendBigEndian(1, byteCount: 2, to: &bytes)
                    bytes.append(flag ? 1 : 0)
                }
            }
        }
        let payloadLength = UInt64(bytes.count - WireLimits.lengthPrefixBytes)
        for index in 0..<4 {
            bytes[index] = UInt8(truncatingIfNeeded: payloadLength >> (24 - 8 * UInt64(index)))
        }
        return bytes
    }

    private static func truncated(_ string: String, spec: FieldSpec) -> [UInt8] {
        guard case .string(let bytesMax) = spec.kind, string.utf8.count > bytesMax else { return Array(string.utf8) }
        var result: [UInt8] = []
        for character in string {
            let utf8 = Array(String(character).utf8)
            if result.count + utf8.count > bytesMax { break }
            result.append(contentsOf: utf8)
        }
        return result
    }

    private static func appendBigEndian(_ value: UInt64, byteCount: Int, to bytes: inout [UInt8]) {
        for index in (0..<byteCount).reversed() {
            bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))))
        }
    }

    /// An error reply frame.
    public static func encodeError(_ error: WireError, correlationId: UInt64) -> [UInt8] {
        var message = WireMessage(type: .error, correlationId: correlationId)
        message.set("code", error.code.rawValue)
        message.set("message", error.message)
        return encode(message)
    }
}
