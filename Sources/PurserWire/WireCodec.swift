/// Encodes and decodes protocol v1 frames. Pure functions over bytes: no I/O, no allocation
/// driven by untrusted lengths beyond the payload already in hand.
public enum WireCodec {
    /// Reads the 4-byte length prefix and refuses a payload larger than `frameBytesMax` or
    /// smaller than a header, before the caller reads or allocates anything for it.
    public static func payloadLength(prefix: some Collection<UInt8>, frameBytesMax: Int) throws(WireError) -> Int {
        precondition(prefix.count == WireLimits.lengthPrefixBytes)
        return try payloadLength(prefix.reduce(0) { $0 << 8 | UInt32($1) }, frameBytesMax: frameBytesMax)
    }

    /// The same check on a prefix already read as a big-endian integer.
    public static func payloadLength(_ prefix: UInt32, frameBytesMax: Int) throws(WireError) -> Int {
        let length = Int(prefix)
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
        withContiguousBytes(payload) { correlationId(bytes: $0) }
    }

    public static func correlationId(bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard bytes.count >= WireLimits.headerBytes else { return 0 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt64.self))
    }

    /// Decodes one payload (the bytes after the length prefix).
    public static func decode(payload: some RandomAccessCollection<UInt8>) throws(WireError) -> WireMessage {
        try withContiguousBytes(payload) { bytes in Result { () throws(WireError) in try decode(bytes: bytes) } }.get()
    }

    /// Decodes one payload in place: the daemon hands the bytes of its receive buffer, so a
    /// request costs no copy before its strings are made.
    public static func decode(bytes: UnsafeRawBufferPointer) throws(WireError) -> WireMessage {
        guard bytes.count >= WireLimits.headerBytes else {
            throw WireError(.malformedFrame, "payload of \(bytes.count) bytes is shorter than the \(WireLimits.headerBytes)-byte header")
        }
        guard bytes[0] == WireLimits.protocolVersion else {
            throw WireError(.unsupportedVersion, "protocol version \(bytes[0]) is not supported; this server speaks version \(WireLimits.protocolVersion)")
        }
        guard let type = MessageType(rawValue: bytes[1]) else {
            throw WireError(.unknownType, "unknown message type 0x\(String(bytes[1], radix: 16))")
        }
        var message = WireMessage(type: type, correlationId: correlationId(bytes: bytes))
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
            guard let index = MessageSchema.index(ofTag: tag, in: type) else { continue }
            let spec = specs[index]
            if !spec.repeated, message.slots[index] != .absent {
                throw WireError(.malformedField, "\(spec.name) appears twice in \(type.name)")
            }
            let value = try decodeValue(UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), spec: spec)
            message.slots[index].append(value)
        }
        for (index, spec) in specs.enumerated() where spec.required && message.slots[index] == .absent {
            throw WireError(.malformedField, "\(type.name) needs \(spec.name)")
        }
        return message
    }

    private static func decodeValue(_ value: UnsafeRawBufferPointer, spec: FieldSpec) throws(WireError) -> FieldValue {
        switch spec.kind {
        case .string(let bytesMax):
            guard value.count <= bytesMax else {
                throw WireError(.malformedField, "\(spec.name) of \(value.count) bytes exceeds \(bytesMax)")
            }
            guard let string = String(validating: value.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
                throw WireError(.malformedField, "\(spec.name) is not valid UTF-8")
            }
            return .string(string)
        case .int64:
            guard value.count == 8 else {
                throw WireError(.malformedField, "\(spec.name) must be 8 bytes, got \(value.count)")
            }
            return .int64(Int64(bitPattern: UInt64(bigEndian: value.loadUnaligned(as: UInt64.self))))
        case .bool:
            guard value.count == 1, value[0] <= 1 else {
                throw WireError(.malformedField, "\(spec.name) must be one byte, 0 or 1")
            }
            return .bool(value[0] == 1)
        }
    }

    /// Runs `body` on the bytes of `collection`, copying them only if they are not contiguous.
    static func withContiguousBytes<Result>(
        _ collection: some RandomAccessCollection<UInt8>, _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        if let result = collection.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(collection).withUnsafeBytes(body)
    }

    /// Encodes a message as a whole frame, length prefix included, fields in ascending tag order.
    /// Strings longer than their field allows are cut at a character boundary, so every frame this
    /// writes is one its peer accepts.
    public static func encode(_ message: WireMessage) -> [UInt8] {
        let count = encodedBytesCount(message)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            encode(message, bytesCount: count, into: UnsafeMutableRawBufferPointer(buffer))
            initializedCount = count
        }
    }

    /// The bytes `encode` writes for `message`, length prefix included: what a caller sizes its
    /// buffer with before `encode(_:bytesCount:into:)`.
    public static func encodedBytesCount(_ message: WireMessage) -> Int {
        var count = WireLimits.lengthPrefixBytes + WireLimits.headerBytes
        forEachValue(of: message) { value, spec in count += WireLimits.fieldHeaderBytes + valueBytesCount(value, spec: spec) }
        return count
    }

    /// Every value `message` carries with its field's spec, in the order a frame holds them:
    /// ascending tag, a repeated field's values in arrival order.
    private static func forEachValue(of message: WireMessage, _ body: (FieldValue, FieldSpec) -> Void) {
        for (index, spec) in MessageSchema.fields(of: message.type).enumerated() {
            switch message.slots[index] {
            case .absent:
                continue
            case .single(let value):
                body(value, spec)
            case .repeated(let values):
                for value in values { body(value, spec) }
            }
        }
    }

    /// Writes the frame of `message` at the start of `buffer`: `bytesCount` bytes, which must be
    /// `encodedBytesCount(message)` (the caller sized `buffer` with it).
    ///
    /// The daemon encodes each reply straight into the buffer its socket writes from, with one
    /// store per integer. Appending to an array a byte at a time (a capacity and uniqueness check
    /// per byte), then copying the array into that buffer, cost more: callgrind, `instructions.py
    /// --seconds 4`, 100,000 keys: authorize 138,709 -> 136,268 instructions at 64 connections and
    /// 168,521 -> 166,082 at one, ping 37,699 -> 36,555.
    public static func encode(_ message: WireMessage, bytesCount count: Int, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= count, "a frame of \(count) bytes does not fit in \(buffer.count)")
        assert(count == encodedBytesCount(message), "bytesCount is not the message's encodedBytesCount")
        var writer = FrameWriter(buffer: buffer)
        writer.write(UInt32(count - WireLimits.lengthPrefixBytes))
        writer.write(WireLimits.protocolVersion)
        writer.write(message.type.rawValue)
        writer.write(message.correlationId)
        forEachValue(of: message) { value, spec in writer.write(value, spec: spec) }
        precondition(writer.offset == count, "encodedBytesCount and encode disagree")
    }

    private static func valueBytesCount(_ value: FieldValue, spec: FieldSpec) -> Int {
        switch value {
        case .string(let string):
            let count = string.utf8.count
            if case .string(let bytesMax) = spec.kind, count > bytesMax {
                return truncated(string, bytesMax: bytesMax).utf8.count
            }
            return count
        case .int64: return 8
        case .bool: return 1
        }
    }

    /// Big-endian stores at an advancing offset into memory already sized for the frame. Every
    /// store is bounds-checked, in release builds too: a wrong size from a caller must stop the
    /// process, never write past the buffer.
    private struct FrameWriter {
        let buffer: UnsafeMutableRawBufferPointer
        var offset = 0

        mutating func reserve(_ count: Int) -> Int {
            precondition(count <= buffer.count - offset, "a frame overran its buffer of \(buffer.count) bytes")
            defer { offset += count }
            return offset
        }

        mutating func write<Integer: FixedWidthInteger>(_ value: Integer) {
            buffer.storeBytes(of: value.bigEndian, toByteOffset: reserve(MemoryLayout<Integer>.size), as: Integer.self)
        }

        mutating func write(_ value: FieldValue, spec: FieldSpec) {
            write(spec.tag)
            switch value {
            case .string(var string):
                if case .string(let bytesMax) = spec.kind, string.utf8.count > bytesMax {
                    string = truncated(string, bytesMax: bytesMax)
                }
                string.withUTF8 { utf8 in
                    write(UInt16(utf8.count))
                    let start = reserve(utf8.count)
                    if let source = utf8.baseAddress {
                        (buffer.baseAddress! + start).copyMemory(from: source, byteCount: utf8.count)
                    }
                }
            case .int64(let integer):
                write(UInt16(8))
                write(UInt64(bitPattern: integer))
            case .bool(let flag):
                write(UInt16(1))
                write(UInt8(flag ? 1 : 0))
            }
        }
    }

    /// The longest prefix of whole characters that fits in `bytesMax` bytes.
    private static func truncated(_ string: String, bytesMax: Int) -> String {
        var result = ""
        var resultBytes = 0
        for character in string {
            let characterBytes = character.utf8.count
            if resultBytes + characterBytes > bytesMax { break }
            result.append(character)
            resultBytes += characterBytes
        }
        return result
    }

    /// An error reply frame.
    public static func encodeError(_ error: WireError, correlationId: UInt64) -> [UInt8] {
        var message = WireMessage(type: .error, correlationId: correlationId)
        message.set("code", error.code.rawValue)
        message.set("message", error.message)
        return encode(message)
    }
}
