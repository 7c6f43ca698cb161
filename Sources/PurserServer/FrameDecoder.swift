import NIOCore
import PurserWire

/// Splits the byte stream into payloads. The length prefix is checked against `frameBytesMax`
/// before any byte of the payload is awaited, so a huge prefix costs nothing.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    enum State {
        case waitingForLength
        case waitingForPayload(bytes: Int)
    }

    private var state = State.waitingForLength
    let frameBytesMax: Int

    init(frameBytesMax: Int) {
        self.frameBytesMax = frameBytesMax
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch state {
        case .waitingForLength:
            guard let prefix = buffer.readInteger(endianness: .big, as: UInt32.self) else { return .needMoreData }
            state = .waitingForPayload(bytes: try WireCodec.payloadLength(prefix, frameBytesMax: frameBytesMax))
            return .continue
        case .waitingForPayload(let bytes):
            guard let payload = buffer.readSlice(length: bytes) else { return .needMoreData }
            state = .waitingForLength
            context.fireChannelRead(wrapInboundOut(payload))
            return .continue
        }
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if case .waitingForPayload = state {
            throw WireError(.malformedFrame, "the stream ended inside a frame")
        }
        if buffer.readableBytes > 0 {
            throw WireError(.malformedFrame, "the stream ended inside a length prefix")
        }
        return .needMoreData
    }
}
