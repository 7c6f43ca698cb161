import PurserWire
import Testing

@Suite struct WireCodecTests {
    static func pong() -> WireMessage {
        var message = WireMessage(type: .pong, correlationId: 7)
        message.set("server_version", "0.1.0")
        message.set("policy_version", "v1")
        return message
    }

    /// Encoding into a caller's buffer writes exactly what `encode` returns.
    @Test func encodingIntoABufferWritesTheSameFrame() {
        let message = Self.pong()
        let count = WireCodec.encodedBytesCount(message)
        let frame = [UInt8](unsafeUninitializedCapacity: count + 8) { buffer, initialized in
            WireCodec.encode(message, bytesCount: count, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
        #expect(frame == WireCodec.encode(message))
        #expect(count == frame.count)
    }

    /// A size smaller than the frame stops the process: the encoder never writes past the buffer.
    @Test func aBufferTooSmallForTheFrameStopsTheProcessInsteadOfBeingOverrun() async {
        await #expect(processExitsWith: .failure) {
            let message = WireCodecTests.pong()
            let count = WireCodec.encodedBytesCount(message) - 1
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
            defer { buffer.deallocate() }
            WireCodec.encode(message, bytesCount: count, into: buffer)
        }
    }
}
