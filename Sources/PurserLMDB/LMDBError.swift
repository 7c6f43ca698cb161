import CLMDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed LMDB (or POSIX) call.
///
/// The raw `code` is kept rather than mapped to an enum so that no LMDB or errno
/// value is ever lost; the `is…` properties name the cases callers act on.
public struct LMDBError: Error, Equatable, Hashable, CustomStringConvertible {
    /// The `MDB_*` code or `errno` value returned by the failed call.
    public let code: Int32
    /// The C function that failed (`"mdb_put"`), or a wrapper-level check (`"key size"`, `"closed"`).
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    public var description: String {
        // mdb_strerror covers both MDB_* codes and errno values (it defers to strerror).
        "\(operation): \(String(cString: mdb_strerror(code))) (\(code))"
    }

    /// The memory map is full: the write did not happen. Callers report the store
    /// as unavailable and may grow the map with `LMDBEnvironment.setMapSize(bytes:)`.
    public var isMapFull: Bool { code == MDB_MAP_FULL }

    /// Every reader slot is taken; raise `readersCountMax` or end long-lived reads.
    public var isReadersFull: Bool { code == MDB_READERS_FULL }

    public var isNotFound: Bool { code == MDB_NOTFOUND }

    public var isKeyExists: Bool { code == MDB_KEYEXIST }

    /// The environment was closed with `LMDBEnvironment.close()`.
    public var isClosed: Bool { self == .closed }

    /// Thrown instead of touching a closed environment's freed handle.
    static let closed = LMDBError(code: EINVAL, operation: "closed")

    /// Thrown for keys LMDB would reject, so the caller sees which rule was broken.
    static let invalidKeySize = LMDBError(code: EINVAL, operation: "key size")

    /// Turns a C return code into a thrown error; `MDB_SUCCESS` passes through.
    @inline(__always)
    static func check(_ code: Int32, _ operation: String) throws(LMDBError) {
        if code != MDB_SUCCESS {
            throw LMDBError(code: code, operation: operation)
        }
    }
}
