#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        #if canImport(Glibc)
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw Failure(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "cannot connect to \(path): \(reason) (is `purser serve` running?)")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Sends one request and returns its reply.
    func send(_ request: WireRequest) throws -> WireMessage {
        let correlationId = nextCorrelationId
        nextCorrelationId += 1
        try writeAll(WireCodec.encode(request.message(correlationId: correlationId)))
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

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
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
