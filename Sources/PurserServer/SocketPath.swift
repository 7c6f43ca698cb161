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
        switch UnixSocket.connect(path: path) {
        case .success(let descriptor):
            close(descriptor)
            return .listening
        case .failure(.connectFailed(let code)) where code == ECONNREFUSED || code == ENOENT:
            return .stale
        case .failure(.connectFailed(let code)), .failure(.socketFailed(let code)):
            return .failed(code)
        case .failure(.pathTooLong):
            return .failed(ENAMETOOLONG)
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
