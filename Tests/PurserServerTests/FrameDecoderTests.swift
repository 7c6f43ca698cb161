import NIOCore
import NIOEmbedded
import PurserWire
import Testing
@testable import PurserServer

/// The framing decoder on an embedded channel: frames split across reads, several in one read,
/// and every way a stream can go wrong.
@Suite struct FrameDecoderTests {
    func channel(frameBytesMax: Int = 64) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(frameBytesMax: frameBytesMax)))
        return channel
    }

    func frame(_ payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + payload
    }

    let payload: [UInt8] = [1, 4, 0, 0, 0, 0, 0, 0, 0, 7]

    @Test func reassemblesAFrameSplitAcrossReads() throws {
        let channel = try channel()
        let bytes = frame(payload)
        for byte in bytes.dropLast() {
            try channel.writeInbound(channel.allocator.buffer(bytes: [byte]))
            #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        }
        try channel.writeInbound(channel.allocator.buffer(bytes: [bytes.last!]))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == payload)
        #expect(try channel.finish().isClean)
    }

    @Test func splitsSeveralFramesInOneRead() throws {
        let channel = try channel()
        // A channel left unfinished after a decoder error would hold its buffers forever.
        defer { _ = try? channel.finish() }
        let second = payload.dropLast() + [8]
        try channel.writeInbound(channel.allocator.buffer(bytes: frame(payload) + frame(Array(second))))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == payload)
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == Array(second))
    }

    @Test func refusesAnOversizedPrefixBeforeAnyPayloadArrives() throws {
        let channel = try channel(frameBytesMax: 64)
        // A channel left unfinished after a decoder error would hold its buffers forever.
        defer { _ = try? channel.finish() }
        #expect(throws: WireError.self) {
            try channel.writeInbound(channel.allocator.buffer(bytes: [0x7f, 0xff, 0xff, 0xff]))
        }
    }

    @Test func refusesAPayloadShorterThanTheHeader() throws {
        let channel = try channel()
        // A channel left unfinished after a decoder error would hold its buffers forever.
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: frame([1, 4, 0])))
            Issue.record("a 3-byte payload was accepted")
        } catch let error as WireError {
            #expect(error.code == .malformedFrame)
        }
    }

    @Test func reportsAStreamThatEndsInsideAFrame() throws {
        let channel = try channel()
        try channel.writeInbound(channel.allocator.buffer(bytes: Array(frame(payload).prefix(8))))
        do {
            _ = try channel.finish()
            Issue.record("a truncated frame at end of stream was accepted")
        } catch let error as WireError {
            #expect(error.code == .malformedFrame)
            #expect(error.message == "the stream ended inside a frame")
        }
    }
}
