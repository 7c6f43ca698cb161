#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking client connection to a Unix stream socket: the one place that fills a `sockaddr_un`.
/// Used by the start-up probe for a live daemon and by the CLI's client commands.
#if canImport(Glibc)
private let systemConnect = Glibc.connect
#else
private let systemConnect = Darwin.connect
#endif

public enum UnixSocket {
    public enum ConnectError: Error {
        case pathTooLong
        /// `socket(2)` failed with this errno.
        case socketFailed(Int32)
        /// `connect(2)` failed with this errno.
        case connectFailed(Int32)

        public var description: String {
            switch self {
            case .pathTooLong: return "the socket path is longer than \(SocketPath.pathBytesMax) bytes"
            case .socketFailed(let code): return "socket: \(String(cString: strerror(code)))"
            case .connectFailed(let code): return String(cString: strerror(code))
            }
        }
    }

    /// Connects and returns the descriptor, which the caller closes. With `timeoutSeconds`, reads
    /// and writes on it fail with EAGAIN after that long instead of blocking forever.
    public static func connect(path: String, timeoutSeconds: Int? = nil) -> Result<Int32, ConnectError> {
        let bytes = Array(path.utf8)
        var address = sockaddr_un()
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return .failure(.pathTooLong) }
        #if canImport(Glibc)
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return .failure(.socketFailed(errno)) }
        if let timeoutSeconds {
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { systemConnect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            return .failure(.connectFailed(code))
        }
        return .success(descriptor)
    }
}
