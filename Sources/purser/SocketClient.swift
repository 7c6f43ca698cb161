#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PurserServer
import PurserWire

/// A blocking client for one request at a time, for the CLI. Reading is bounded by
/// `frameBytesMax` and by a receive timeout, so a misbehaving server cannot hang a script.
final class SocketClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let descriptor: Int32
    private var nextCorrelationId: UInt64 = 1
    static let frameBytesMax = 1 << 20

    init(path: String, timeoutSeconds: Int = 10) throws {
        switch UnixSocket.connect(path: path, timeoutSeconds: timeoutSeconds) {
        case .success(let descriptor):
            self.descriptor = descriptor
        case .failure(.connectFailed(let code)):
            throw Failure(description: "cannot connect to \(path): \(String(cString: strerror(code))) (is `purser serve` running?)")
        case .failure(let error):
            throw Failure(description: "cannot connect to \(path): \(error.description)")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Sends one request and returns its reply.
    func send(_ request: WireRequest) throws -> WireMessage {
        let correlationId = nextCorrelationId
        nextCorrelationId += 1
        do {
            try writeAll(WireCodec.encode(request.message(correlationId: correlationId)))
        } catch WriteFailure.peerClosed {
            // A daemon that refuses this peer (allowlist, connection limit) writes an error frame
            // and closes before reading anything. That refusal is still in our receive buffer and
            // says more than EPIPE, so read it below.
        }
        let prefix = try readExactly(WireLimits.lengthPrefixBytes)
        let length: Int
        do {
            length = try WireCodec.payloadLength(prefix: prefix, frameBytesMax: Self.frameBytesMax)
        } catch {
            throw Failure(description: "bad reply from the server: \(error)")
        }
        let reply: WireMessage
        do {
            reply = try WireCodec.decode(payload: try readExactly(length))
        } catch let error as WireError {
            throw Failure(description: "bad reply from the server: \(error)")
        }
        // An error about the connection itself (too many connections, a refused peer) comes
        // before any request was read, so it carries correlation id 0.
        guard reply.correlationId == correlationId || (reply.type == .error && reply.correlationId == 0) else {
            throw Failure(description: "the reply's correlation id \(reply.correlationId) is not the request's \(correlationId)")
        }
        return reply
    }

    private enum WriteFailure: Error {
        case peerClosed
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a peer that already closed must give us EPIPE, not a SIGPIPE that kills
            // the CLI before it can print why.
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { throw WriteFailure.peerClosed }
                throw Failure(description: "write: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let received = bytes[offset...].withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if received < 0 {
                if errno == EINTR { continue }
                throw Failure(description: errno == EAGAIN ? "timed out waiting for the server" : "read: \(String(cString: strerror(errno)))")
            }
            if received == 0 { throw Failure(description: "the server closed the connection") }
            offset += received
        }
        return bytes
    }
}
