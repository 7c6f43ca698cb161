#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a socket path cannot be served on.
public struct SocketPathError: Error, CustomStringConvertible {
    public var description: String
}

/// Prepares a Unix socket path for binding: a stale file left by a crashed run is replaced, but a
/// live daemon on the path is never displaced, and a file that is not a socket is never deleted.
public enum SocketPath {
    /// `sun_path` holds 108 bytes including the terminating zero.
    public static let pathBytesMax = 107

    public static func prepare(_ path: String) throws(SocketPathError) {
        guard !path.isEmpty, path.utf8.count <= pathBytesMax else {
            throw SocketPathError(description: "socket path \(path) must be 1-\(pathBytesMax) bytes")
        }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw SocketPathError(description: "cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SocketPathError(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        switch probe(path) {
        case .listening:
            throw SocketPathError(description: "another process is already serving on \(path); refusing to displace it")
        case .stale:
            guard unlink(path) == 0 || errno == ENOENT else {
                throw SocketPathError(description: "cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
            }
        case .failed(let code):
            throw SocketPathError(description: "cannot probe \(path): \(String(cString: strerror(code)))")
        }
    }

    enum Probe {
        case listening
        case stale
        case failed(Int32)
    }

    /// Connects to the socket to learn whether anything listens on it.
    static func probe(_ path: String) -> Probe {
        #if canImport(Glibc)
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return .failed(errno) }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result == 0 { return .listening }
        switch errno {
        case ECONNREFUSED, ENOENT: return .stale
        default: return .failed(errno)
        }
    }

    /// Removes the socket file at shutdown, if it is still a socket.
    public static func remove(_ path: String) {
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK {
            unlink(path)
        }
    }
}
