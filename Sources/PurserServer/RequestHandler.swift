import Logging
import NIOCore
import PurserWire

/// One connection's requests: decodes payloads, hands them to the processor, writes replies in
/// completion order, and keeps the connection's promises:
/// - at most `inflightMax` requests are in flight. Frames beyond that wait in `pending`, and
///   reading from the socket stops until they can be taken; reading also stops while the
///   connection's unsent replies are above the write high-water mark (a client that writes but
///   does not read). A flood thus costs the flooder latency and the server a bounded amount of
///   memory: one socket read of frames, plus `inflightMax` replies;
/// - a malformed frame gets an error reply with its stable code, then the connection closes;
/// - on drain (shutdown) it stops reading, answers what is in flight, and closes.
final class RequestHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let processor: RequestProcessor
    private let role: SocketRole
    private let inflightMax: Int
    private let logger: Logger

    private var inflight = 0
    /// Frames decoded but not yet taken, because `inflightMax` requests were in flight. Reads are
    /// held while it is not empty, so it holds at most what one socket read delivered.
    private var pending = CircularBuffer<ByteBuffer>()
    /// A read the channel asked for while we were saturated; issued once we are not.
    private var readHeld = false
    private var draining = false
    private var inputClosed = false
    /// Set once a fatal error was answered: nothing more is read or written.
    private var finished = false
    /// Replies written but not yet flushed. Replies completed together (one group commit answers
    /// many requests at once) are flushed together, in one `writev`, by a task that runs after
    /// the commit: a connection pipelining 64 requests costs one system call, not 64.
    private var flushScheduled = false

    static let shuttingDown = WireError(.shuttingDown, "the server is shutting down; this request was not applied")

    init(processor: RequestProcessor, role: SocketRole, inflightMax: Int, logger: Logger) {
        self.processor = processor
        self.role = role
        self.inflightMax = inflightMax
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let payload = unwrapInboundIn(data)
        if inflight >= inflightMax || !pending.isEmpty || !context.channel.isWritable {
            pending.append(payload)
            return
        }
        take(payload, context: context)
    }

    /// Decodes one frame and starts its request.
    private func take(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        // Decoded in place from the receive buffer: no copy of the payload.
        let (correlationId, decoded) = payload.withUnsafeReadableBytes { bytes in
            (WireCodec.correlationId(bytes: bytes), Result { () throws(WireError) in try WireRequest(bytes: bytes) })
        }
        let request: WireRequest
        switch decoded {
        case .success(let value):
            request = value
        case .failure(let error):
            fail(context: context, error: error, correlationId: correlationId)
            return
        }
        if draining {
            // Requests in flight are still answered before the connection closes (closeIfIdle).
            write(context: context, frame: WireCodec.encodeError(Self.shuttingDown, correlationId: correlationId))
            return
        }
        if request.type.isAdmin && role == .data {
            write(context: context, frame: WireCodec.encodeError(
                WireError(.adminOnly, "\(request.type.name) is accepted on the admin socket only"), correlationId: correlationId
            ))
            return
        }
        inflight += 1
        let eventLoop = context.eventLoop
        let connection = NIOLoopBound((handler: self, context: context), eventLoop: eventLoop)
        processor.process(request) { result in
            // Authorize replies come back on this loop (the writer runs here); settles come from
            // the syncer thread and hop.
            if eventLoop.inEventLoop {
                connection.value.handler.answer(result, correlationId: correlationId, context: connection.value.context)
            } else {
                eventLoop.execute {
                    connection.value.handler.answer(result, correlationId: correlationId, context: connection.value.context)
                }
            }
        }
    }

    /// Writes the reply (or error) of a request taken earlier, then takes what waited for room.
    private func answer(_ result: Result<WireMessage, Error>, correlationId: UInt64, context: ChannelHandlerContext) {
        inflight -= 1
        switch result {
        case .success(var reply):
            reply.correlationId = correlationId
            write(context: context, reply: reply)
        case .failure(let error as WireError):
            if error.code.closesConnection {
                fail(context: context, error: error, correlationId: correlationId)
            } else {
                write(context: context, frame: WireCodec.encodeError(error, correlationId: correlationId))
            }
        case .failure(let error):
            write(context: context, frame: WireCodec.encodeError(WireError(.unavailable, "\(error)"), correlationId: correlationId))
        }
        afterReply(context: context)
    }

    /// True when the connection must not take more work: at its in-flight limit, with frames
    /// waiting, or with replies piling up unread.
    private func saturated(_ context: ChannelHandlerContext) -> Bool {
        inflight >= inflightMax || !pending.isEmpty || !context.channel.isWritable
    }

    func read(context: ChannelHandlerContext) {
        if saturated(context) || draining || finished {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            resume(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Takes waiting frames while there is room, then reads again if a read was held.
    private func resume(context: ChannelHandlerContext) {
        while !finished, inflight < inflightMax, context.channel.isWritable, let next = pending.popFirst() {
            take(next, context: context)
        }
        if readHeld && !saturated(context) && !draining && !finished {
            readHeld = false
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let error = error as? WireError {
            fail(context: context, error: error, correlationId: 0)
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            finished = true
            // Replies still waiting for their batched flush go out before the close, which would
            // otherwise discard them.
            context.flush()
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            inputClosed = true
            closeIfIdle(context: context)
        case is IdleStateHandler.IdleStateEvent:
            if inflight == 0 && pending.isEmpty {
                logger.debug("closing an idle connection")
                context.flush()
                context.close(promise: nil)
            }
        case is ConnectionRegistry.DrainRequested:
            draining = true
            // Frames read but not started will not be: each is told so.
            while let waiting = pending.popFirst() {
                let correlationId = waiting.withUnsafeReadableBytes { WireCodec.correlationId(bytes: $0) }
                write(context: context, frame: WireCodec.encodeError(Self.shuttingDown, correlationId: correlationId))
            }
            closeIfIdle(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func afterReply(context: ChannelHandlerContext) {
        resume(context: context)
        closeIfIdle(context: context)
    }

    private func closeIfIdle(context: ChannelHandlerContext) {
        if (inputClosed || draining) && inflight == 0 && pending.isEmpty && !finished {
            finished = true
            // Replies still waiting for their batched flush go out before the close, which would
            // otherwise discard them.
            context.flush()
            context.close(promise: nil)
        }
    }

    private func write(context: ChannelHandlerContext, frame: [UInt8]) {
        write(context: context, buffer: context.channel.allocator.buffer(bytes: frame))
    }

    /// Encodes the reply straight into the buffer the socket writes from: no intermediate array.
    private func write(context: ChannelHandlerContext, reply: WireMessage) {
        let count = WireCodec.encodedBytesCount(reply)
        var buffer = context.channel.allocator.buffer(capacity: count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            WireCodec.encode(reply, bytesCount: count, into: bytes)
            return count
        }
        write(context: context, buffer: buffer)
    }

    private func write(context: ChannelHandlerContext, buffer: ByteBuffer) {
        guard !finished else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            context.flush()
        }
    }

    /// Answers an error; for a fatal one, closes the connection once the reply is written.
    private func fail(context: ChannelHandlerContext, error: WireError, correlationId: UInt64) {
        guard !finished else { return }
        let frame = context.channel.allocator.buffer(bytes: WireCodec.encodeError(error, correlationId: correlationId))
        guard error.code.closesConnection else {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            return
        }
        logger.info("closing a connection after a protocol error", metadata: ["code": "\(error.code.rawValue)", "socket": "\(role.rawValue)"])
        finished = true
        context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Installed instead of a `RequestHandler` on a connection that is not served (beyond
/// `connectionsMax`, or a peer outside the allowlist): says why and closes.
final class RejectConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let error: WireError

    init(_ error: WireError) {
        self.error = error
    }

    func channelActive(context: ChannelHandlerContext) {
        let frame = WireCodec.encodeError(error, correlationId: 0)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: frame))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
