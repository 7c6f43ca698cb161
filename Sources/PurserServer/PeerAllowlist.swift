#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// Who may connect to a socket, beyond its file mode: a peer is admitted if its uid or its gid is
/// listed. An empty list admits everyone the file mode lets in. Checked with SO_PEERCRED, which
/// the kernel fills in at connect time, so a client cannot forge it.
public struct PeerAllowlist: Hashable, Sendable {
    public var userIds: Set<UInt32>
    public var groupIds: Set<UInt32>

    public init(userIds: Set<UInt32> = [], groupIds: Set<UInt32> = []) {
        self.userIds = userIds
        self.groupIds = groupIds
    }

    public var isEmpty: Bool { userIds.isEmpty && groupIds.isEmpty }

    public func admits(_ peer: PeerCredentials) -> Bool {
        isEmpty || userIds.contains(peer.userId) || groupIds.contains(peer.groupId)
    }
}

/// `struct ucred` of Linux, read with getsockopt(SOL_SOCKET, SO_PEERCRED).
public struct PeerCredentials: Hashable, Sendable {
    public var processId: Int32
    public var userId: UInt32
    public var groupId: UInt32

    /// Linux's SO_PEERCRED option number.
    static let socketOption: Int32 = 17

    static func of(_ channel: Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: socketOption)
        )
    }
}
