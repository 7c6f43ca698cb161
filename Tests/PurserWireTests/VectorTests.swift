import Foundation
import PurserWire
import Testing

/// Checks the codec against clients/testdata/vectors.json, which an independent encoder wrote from
/// docs/protocol.md. Every client in clients/ checks the same file.
@Suite struct VectorTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        var name: String
        var valid: Bool
        /// `to_server` frames are decoded as the server does (requests only); `to_client` as a client.
        var toServer: Bool
        var bytes: [UInt8]
        var error: String?
        var typeName: String?
        var correlationId: UInt64?
        /// JSON field values, re-encoded as JSON text so the struct stays Sendable.
        var fieldsJSON: Data?
        var testDescription: String { name }
    }

    static let vectors: [Vector] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/testdata/vectors.json")
        let root = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return (root["vectors"] as! [[String: Any]]).map { entry in
            let message = entry["message"] as? [String: Any]
            return Vector(
                name: entry["name"] as! String,
                valid: entry["valid"] as! Bool,
                toServer: entry["direction"] as! String == "to_server",
                bytes: hexBytes(entry["hex"] as! String),
                error: entry["error"] as? String,
                typeName: message?["type"] as? String,
                correlationId: (message?["correlation_id"] as? NSNumber)?.uint64Value,
                fieldsJSON: message.map { try! JSONSerialization.data(withJSONObject: $0["fields"]!) }
            )
        }
    }()

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// The vector's fields as a `WireMessage`, typed by the schema.
    static func expectedMessage(_ vector: Vector) throws -> WireMessage {
        let type = try #require(MessageType.allCases.first { $0.name == vector.typeName })
        let json = try JSONSerialization.jsonObject(with: vector.fieldsJSON!) as! [String: Any]
        var message = WireMessage(type: type, correlationId: vector.correlationId!)
        for (name, value) in json {
            let spec = try #require(MessageSchema.fields(of: type).first { $0.name == name }, "unknown field \(name)")
            let values = spec.repeated ? value as! [Any] : [value]
            message.fields[name] = values.map { element in
                switch spec.kind {
                case .string: return .string(element as! String)
                case .int64: return .int64((element as! NSNumber).int64Value)
                case .bool: return .bool(element as! Bool)
                }
            }
        }
        return message
    }

    static var validVectors: [Vector] { vectors.filter(\.valid) }
    static var invalidVectors: [Vector] { vectors.filter { !$0.valid } }

    @Test func thereAreEnoughVectors() {
        #expect(Self.validVectors.count >= 15)
        #expect(Self.invalidVectors.count >= 10)
    }

    @Test(arguments: validVectors)
    func validVectorDecodesToItsMeaningAndEncodesBack(_ vector: Vector) throws {
        let expected = try Self.expectedMessage(vector)
        let length = try WireCodec.payloadLength(prefix: vector.bytes.prefix(4), frameBytesMax: WireLimits.frameBytesMaxDefault)
        #expect(length == vector.bytes.count - 4)
        let decoded = try WireCodec.decode(payload: vector.bytes.dropFirst(4))
        #expect(decoded == expected)
        #expect(vector.toServer == expected.type.isRequest)
        if vector.toServer {
            #expect(try WireRequest(payload: vector.bytes.dropFirst(4)).message(correlationId: expected.correlationId).type == expected.type)
        }
        // Encoding is canonical, except that a vector with an unknown field cannot round-trip it.
        if vector.name != "authorize_unknown_field" {
            #expect(WireCodec.encode(expected) == vector.bytes)
        }
    }

    @Test(arguments: invalidVectors)
    func invalidVectorFailsWithItsExactCode(_ vector: Vector) throws {
        let code = try #require(WireErrorCode(rawValue: vector.error ?? ""), "vector \(vector.name) names no known code")
        do {
            let length = try WireCodec.payloadLength(prefix: vector.bytes.prefix(4), frameBytesMax: WireLimits.frameBytesMaxDefault)
            let payload = vector.bytes.dropFirst(4).prefix(length)
            if vector.toServer {
                _ = try WireRequest(payload: payload)
            } else {
                _ = try WireCodec.decode(payload: payload)
            }
            Issue.record("\(vector.name) decoded without an error")
        } catch {
            #expect(error.code == code, "\(vector.name): \(error)")
        }
    }

    @Test func typedRequestsRoundTrip() throws {
        let requests: [WireRequest] = [
            .authorize(AuthorizeFields(key: "pk", model: "gpt-5.4", tags: ["a", "b"], inputTokens: 3, maxOutputTokens: 4, requestId: "r")),
            .settle(SettleFields(reservation: "rsv_1", inputTokens: 1, outputTokens: 2, status: "cancelled", retries: 3)),
            .release(reservation: "rsv_2"),
            .credit(CreditFields(tenant: "t", micros: 5, memo: "m", requestId: "c")),
            .ping, .reload, .status,
        ]
        for (index, request) in requests.enumerated() {
            let frame = WireCodec.encode(request.message(correlationId: UInt64(index)))
            let decoded = try WireRequest(payload: frame.dropFirst(4))
            #expect(decoded == request)
            #expect(WireCodec.correlationId(ofPayload: Array(frame.dropFirst(4))) == UInt64(index))
        }
    }

    @Test func encodingCutsOverlongStringsAtACharacterBoundary() throws {
        var message = WireMessage(type: .error, correlationId: 1)
        message.set("code", "x")
        message.set("message", String(repeating: "é", count: 40_000))  // 80,000 bytes
        let decoded = try WireCodec.decode(payload: WireCodec.encode(message).dropFirst(4))
        #expect(decoded.string("message")?.utf8.count == 65_534)
    }
}
