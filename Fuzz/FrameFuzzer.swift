// libFuzzer harness for the wire codec: the server's decoding path on arbitrary bytes.
//
// Built by Fuzz/run.sh together with Sources/PurserWire/*.swift into one module (FrameFuzz), so it
// needs no `import`. An input is a byte stream as a client would send it: frames are split off as
// FrameDecoder does (length prefix checked against frameBytesMax before the payload is touched) and
// each payload goes through `WireRequest(payload:)` as RequestHandler does, and through
// `WireCodec.decode` as a client decodes replies. Every invariant below traps on failure, which
// libFuzzer reports as a crash and saves as an input to replay.

/// The frameBytesMax values the prefix is checked against: the default, the smallest useful one,
/// and a small one.
let frameBytesMaxValues = [WireLimits.frameBytesMaxDefault, WireLimits.headerBytes, 64]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    checkStream(bytes)
    return 0
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant violated: \(message())") }
}

func checkStream(_ bytes: [UInt8]) {
    // correlationId(ofPayload:) must never trap, whatever it is given (short, empty, any slice).
    _ = WireCodec.correlationId(ofPayload: bytes)
    _ = WireCodec.correlationId(ofPayload: bytes.dropFirst(min(3, bytes.count)))
    _ = WireCodec.correlationId(ofPayload: bytes.prefix(9))

    var offset = 0
    while bytes.count - offset >= WireLimits.lengthPrefixBytes {
        let prefix = bytes[offset..<offset + WireLimits.lengthPrefixBytes]
        let declared = prefix.reduce(0) { $0 << 8 | Int($1) }
        for frameBytesMax in frameBytesMaxValues.dropFirst() {
            checkPrefix(prefix, declared: declared, frameBytesMax: frameBytesMax)
        }
        let length: Int
        do {
            length = try WireCodec.payloadLength(prefix: prefix, frameBytesMax: WireLimits.frameBytesMaxDefault)
        } catch {
            check(error.code == (declared > WireLimits.frameBytesMaxDefault ? .frameTooLarge : .malformedFrame), "prefix error \(error)")
            checkErrorReply(error, correlationId: 0)
            return
        }
        check(length == declared && length >= WireLimits.headerBytes && length <= WireLimits.frameBytesMaxDefault, "length \(length)")
        offset += WireLimits.lengthPrefixBytes
        // The server waits for the rest of an incomplete frame; decode what there is anyway, as a
        // payload of its own, to reach more of the codec.
        let available = min(length, bytes.count - offset)
        let payload = bytes[offset..<offset + available]
        offset += available
        checkPayload(payload)
    }
}

func checkPrefix(_ prefix: ArraySlice<UInt8>, declared: Int, frameBytesMax: Int) {
    do {
        let length = try WireCodec.payloadLength(prefix: prefix, frameBytesMax: frameBytesMax)
        check(length == declared && length >= WireLimits.headerBytes && length <= frameBytesMax, "length \(length) of max \(frameBytesMax)")
    } catch {
        check(declared > frameBytesMax || declared < WireLimits.headerBytes, "refused \(declared) with max \(frameBytesMax)")
    }
}

func checkPayload(_ payload: ArraySlice<UInt8>) {
    let correlationId = WireCodec.correlationId(ofPayload: payload)
    // As the server decodes: requests only.
    do {
        let request = try WireRequest(payload: payload)
        check(payload.count >= WireLimits.headerBytes, "a request from \(payload.count) bytes")
        check(request.type.isRequest, "request of type \(request.type)")
        // Round trip: what a client encodes from the typed request decodes to the same request.
        let frame = WireCodec.encode(request.message(correlationId: correlationId))
        let again: WireRequest
        do {
            again = try WireRequest(payload: frame.dropFirst(WireLimits.lengthPrefixBytes))
        } catch {
            fatalError("re-encoded \(request.type.name) does not decode: \(error)")
        }
        check(again == request, "round trip changed \(request) into \(again)")
        check(WireCodec.correlationId(ofPayload: frame.dropFirst(WireLimits.lengthPrefixBytes)) == correlationId, "correlation id")
    } catch {
        if payload.count < WireLimits.headerBytes { check(error.code == .malformedFrame, "short payload gave \(error)") }
        checkErrorReply(error, correlationId: correlationId)
    }
    // As a client decodes: any type. Whatever decodes re-encodes to the same message.
    do {
        let message = try WireCodec.decode(payload: payload)
        check(message.correlationId == correlationId, "correlation id of a decoded message")
        let frame = WireCodec.encode(message)
        do {
            let again = try WireCodec.decode(payload: frame.dropFirst(WireLimits.lengthPrefixBytes))
            check(again == message, "message round trip changed \(message) into \(again)")
        } catch {
            fatalError("re-encoded \(message.type.name) does not decode: \(error)")
        }
    } catch {
        checkErrorReply(error, correlationId: correlationId)
    }
}

/// The error reply the server would send must itself be a frame every client decodes.
func checkErrorReply(_ error: WireError, correlationId: UInt64) {
    let frame = WireCodec.encodeError(error, correlationId: correlationId)
    do {
        let reply = try WireCodec.decode(payload: frame.dropFirst(WireLimits.lengthPrefixBytes))
        check(reply.type == .error && reply.correlationId == correlationId, "error reply header")
        check(reply.string("code") == error.code.rawValue, "error reply code")
    } catch {
        fatalError("error reply does not decode: \(error)")
    }
}
