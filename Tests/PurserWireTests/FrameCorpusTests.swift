import Foundation
import PurserWire
import Testing

/// Replays tests/corpus/frames.json (bad frames, and edge frames that must be accepted) and every
/// input in Fuzz/regression/ through the server's decoding path: the length prefix against
/// frameBytesMax, then `WireRequest(payload:)`, exactly as FrameDecoder and RequestHandler do.
/// tests/corpus/test_frames_daemon.py sends the same corpus to a real daemon.
@Suite struct FrameCorpusTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let frameBytesMax = WireLimits.frameBytesMaxDefault

    struct BadFrame: CustomTestStringConvertible, Sendable {
        var name: String
        var truncated: Bool
        var toServer: Bool
        var bytes: [UInt8]
        var error: String
        var closes: Bool
        var correlationId: UInt64
        var codecLayer: Bool
        var before: [String]
        var testDescription: String { name }
    }

    struct AcceptedFrame: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var replyType: String
        var testDescription: String { name }
    }

    static func loadCorpus() -> [String: Any] {
        let url = repositoryRoot.appendingPathComponent("tests/corpus/frames.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static let corpusFrameBytesMax = loadCorpus()["frame_bytes_max"] as? Int

    static let badFrames: [BadFrame] = (loadCorpus()["frames"] as! [[String: Any]]).map { entry in
        BadFrame(
            name: entry["name"] as! String,
            truncated: entry["kind"] as! String == "truncated",
            toServer: entry["direction"] as! String == "to_server",
            bytes: hexBytes(entry["hex"] as! String),
            error: entry["error"] as! String,
            closes: entry["closes"] as! Bool,
            correlationId: (entry["correlation_id"] as! NSNumber).uint64Value,
            codecLayer: entry["layer"] as! String == "codec",
            before: entry["before"] as! [String]
        )
    }

    static let acceptedFrames: [AcceptedFrame] = (loadCorpus()["accepted"] as! [[String: Any]]).map { entry in
        AcceptedFrame(name: entry["name"] as! String, bytes: hexBytes(entry["hex"] as! String), replyType: entry["reply_type"] as! String)
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        precondition(hex.count % 2 == 0, "odd hex length")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// What the server makes of a byte stream, frame by frame.
    enum Outcome: Equatable, CustomStringConvertible {
        /// A payload that decoded to a request.
        case request(WireRequest, correlationId: UInt64)
        /// An error reply; a closing one ends the stream.
        case error(WireErrorCode, correlationId: UInt64)
        /// The stream stopped inside a frame and the connection stays open, waiting for the rest.
        case waiting

        var description: String {
            switch self {
            case .request(let request, let id): return "request \(request.type.name) #\(id)"
            case .error(let code, let id): return "error \(code.rawValue) #\(id)"
            case .waiting: return "waiting"
            }
        }
    }

    /// The outcomes of `stream` as the server sees it (FrameDecoder + RequestHandler): `eof` says
    /// whether the peer's write side ends after these bytes.
    static func serverOutcomes(_ stream: [UInt8], eof: Bool) -> [Outcome] {
        var outcomes: [Outcome] = []
        var offset = 0
        while true {
            let remaining = stream.count - offset
            if remaining < WireLimits.lengthPrefixBytes {
                if remaining == 0 { return outcomes }
                outcomes.append(eof ? .error(.malformedFrame, correlationId: 0) : .waiting)
                return outcomes
            }
            let length: Int
            do {
                length = try WireCodec.payloadLength(prefix: stream[offset..<offset + 4], frameBytesMax: frameBytesMax)
            } catch {
                // Thrown by the frame decoder: answered with correlation id 0.
                outcomes.append(.error(error.code, correlationId: 0))
                return outcomes
            }
            offset += 4
            guard stream.count - offset >= length else {
                outcomes.append(eof ? .error(.malformedFrame, correlationId: 0) : .waiting)
                return outcomes
            }
            let payload = stream[offset..<offset + length]
            offset += length
            let correlationId = WireCodec.correlationId(ofPayload: payload)
            do {
                outcomes.append(.request(try WireRequest(payload: payload), correlationId: correlationId))
            } catch {
                outcomes.append(.error(error.code, correlationId: correlationId))
                if error.code.closesConnection { return outcomes }
            }
        }
    }

    static let replyTypeNames: [String: MessageType] = Dictionary(
        uniqueKeysWithValues: MessageType.allCases.compactMap { type in type.replyType.map { ($0.name, type) } }
    )

    // MARK: - Corpus shape

    @Test func corpusIsLargeAndCoversEveryCodecCode() {
        #expect(Self.badFrames.count >= 30)
        let codes = Set(Self.badFrames.filter(\.codecLayer).map(\.error))
        #expect(codes == ["malformed_frame", "frame_too_large", "unsupported_version", "unknown_type", "malformed_field"])
        #expect(Self.badFrames.contains { $0.truncated })
        #expect(Set(Self.badFrames.map(\.name)).count == Self.badFrames.count, "names must be unique")
        #expect(Self.corpusFrameBytesMax == Self.frameBytesMax)
    }

    // MARK: - Bad frames

    @Test(arguments: badFrames)
    func badFrameFailsWithItsExactCode(_ frame: BadFrame) throws {
        let code = try #require(WireErrorCode(rawValue: frame.error), "\(frame.name) names no known code")
        #expect(code.closesConnection == frame.closes, "closes must follow docs/protocol.md")

        if !frame.toServer {
            // A reply, decoded as a client does.
            let length = try WireCodec.payloadLength(prefix: frame.bytes.prefix(4), frameBytesMax: Self.frameBytesMax)
            #expect(length == frame.bytes.count - 4)
            #expect(throws: WireError.self) { try WireCodec.decode(payload: frame.bytes.dropFirst(4)) }
            do {
                _ = try WireCodec.decode(payload: frame.bytes.dropFirst(4))
            } catch {
                #expect(error.code == code, "\(error)")
            }
            return
        }

        let outcomes = Self.serverOutcomes(frame.bytes, eof: frame.truncated)
        let expectedBefore = frame.before.map { Self.replyTypeNames[$0] }
        try #require(outcomes.count == expectedBefore.count + 1, "outcomes: \(outcomes)")
        for (outcome, type) in zip(outcomes, expectedBefore) {
            guard case .request(let request, _) = outcome else {
                Issue.record("expected a \(String(describing: type)) before the error, got \(outcome)")
                continue
            }
            #expect(request.type == type)
        }
        let last = outcomes.last!
        if frame.codecLayer {
            #expect(last == .error(code, correlationId: frame.correlationId))
        } else {
            // Well formed: the codec accepts it and the daemon refuses the request.
            guard case .request(let request, let correlationId) = last else {
                Issue.record("\(frame.name) should decode, got \(last)")
                return
            }
            #expect(correlationId == frame.correlationId)
            switch code {
            case .adminOnly: #expect(request.type.isAdmin)
            case .unknownReservation: #expect(request.type == .settle || request.type == .release)
            case .badRequest: #expect(request.type == .settle)
            default: Issue.record("unexpected server-layer code \(code)")
            }
        }
    }

    @Test(arguments: badFrames.filter { !$0.truncated && $0.toServer })
    func aBadFrameFollowedByEOFStillGetsItsOwnError(_ frame: BadFrame) {
        // What the daemon test does after sending: the write side closes. Only frames the server
        // refuses without waiting may be in the corpus of kind "frame".
        let waiting = Self.serverOutcomes(frame.bytes, eof: false)
        #expect(!waiting.contains(.waiting), "\(frame.name) leaves the server waiting: mark it truncated")
    }

    @Test(arguments: badFrames.filter { $0.truncated })
    func truncatedStreamsWaitUntilEOF(_ frame: BadFrame) {
        // Without EOF the server just waits for the rest of the frame.
        #expect(Self.serverOutcomes(frame.bytes, eof: false).last == .waiting)
    }

    // MARK: - Edge frames that must be accepted

    @Test(arguments: acceptedFrames)
    func acceptedFrameDecodesAndRoundTrips(_ frame: AcceptedFrame) throws {
        let length = try WireCodec.payloadLength(prefix: frame.bytes.prefix(4), frameBytesMax: Self.frameBytesMax)
        #expect(length == frame.bytes.count - 4)
        let payload = frame.bytes.dropFirst(4)
        let request = try WireRequest(payload: payload)
        #expect(Self.replyTypeNames[frame.replyType] == request.type)
        let correlationId = WireCodec.correlationId(ofPayload: payload)
        let again = try WireRequest(payload: WireCodec.encode(request.message(correlationId: correlationId)).dropFirst(4))
        #expect(again == request)
    }

    @Test func lengthEdgesAreExact() throws {
        let max = Self.frameBytesMax
        func length(_ value: UInt32) throws(WireError) -> Int {
            try WireCodec.payloadLength(prefix: [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)],
                                        frameBytesMax: max)
        }
        #expect(try length(10) == 10)
        #expect(try length(UInt32(max)) == max)
        for (value, code) in [(0, WireErrorCode.malformedFrame), (9, .malformedFrame), (UInt32(max) + 1, .frameTooLarge),
                              (0x7fff_ffff, .frameTooLarge), (0x8000_0000, .frameTooLarge), (0xffff_ffff, .frameTooLarge)] {
            #expect(throws: WireError.self) { try length(value) }
            do { _ = try length(value) } catch { #expect(error.code == code, "length \(value)") }
        }
    }

    // MARK: - Fuzzer regressions

    static let regressionFiles: [String] = {
        let directory = repositoryRoot.appendingPathComponent("Fuzz/regression")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
    }()

    @Test func thereAreRegressionInputs() {
        #expect(Self.regressionFiles.count >= 5)
    }

    /// The invariants Fuzz/FrameFuzzer.swift checks, on every saved input: nothing traps, every
    /// request that decodes re-encodes to an equal request, every message that decodes re-encodes to
    /// an equal message, and every error reply is itself a frame a client decodes.
    @Test(arguments: regressionFiles)
    func regressionInputKeepsTheInvariants(_ name: String) throws {
        let url = Self.repositoryRoot.appendingPathComponent("Fuzz/regression").appendingPathComponent(name)
        let bytes = [UInt8](try Data(contentsOf: url))
        var offset = 0
        while bytes.count - offset >= 4 {
            let length: Int
            do {
                length = try WireCodec.payloadLength(prefix: bytes[offset..<offset + 4], frameBytesMax: Self.frameBytesMax)
            } catch {
                try Self.checkErrorReply(error, correlationId: 0)
                return
            }
            offset += 4
            guard bytes.count - offset >= length else { return }
            let payload = bytes[offset..<offset + length]
            offset += length
            try Self.checkPayload(payload)
        }
        _ = WireCodec.correlationId(ofPayload: bytes[offset...])
    }

    static func checkPayload(_ payload: ArraySlice<UInt8>) throws {
        let correlationId = WireCodec.correlationId(ofPayload: payload)
        do {
            let request = try WireRequest(payload: payload)
            let frame = WireCodec.encode(request.message(correlationId: correlationId))
            #expect(try WireRequest(payload: frame.dropFirst(4)) == request)
            #expect(WireCodec.correlationId(ofPayload: frame.dropFirst(4)) == correlationId)
        } catch {
            try checkErrorReply(error, correlationId: correlationId)
        }
        if let message = try? WireCodec.decode(payload: payload) {
            #expect(message.correlationId == correlationId)
            #expect(try WireCodec.decode(payload: WireCodec.encode(message).dropFirst(4)) == message)
        }
    }

    static func checkErrorReply(_ error: WireError, correlationId: UInt64) throws {
        let reply = try WireCodec.decode(payload: WireCodec.encodeError(error, correlationId: correlationId).dropFirst(4))
        #expect(reply.type == .error)
        #expect(reply.correlationId == correlationId)
        #expect(reply.string("code") == error.code.rawValue)
    }
}
