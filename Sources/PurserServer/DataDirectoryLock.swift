#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on the data directory, held for the daemon's life, so that two daemons can
/// never serve from the same counters. The kernel drops it when the process dies, `kill -9`
/// included, so a crash never leaves a stale lock behind.
public final class DataDirectoryLock {
    private let descriptor: Int32

    public init(directory: String) throws(SocketPathError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw SocketPathError(description: "cannot create the data directory \(directory): \(String(cString: strerror(errno)))")
        }
        let path = directory + "/purser.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SocketPathError(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another purser is using the data directory \(directory)" : String(cString: strerror(errno))
            close(descriptor)
            throw SocketPathError(description: reason)
        }
    }

    deinit {
        close(descriptor)
    }
}
