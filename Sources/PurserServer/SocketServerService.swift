#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import PurserWire
import ServiceLifecycle

/// Serves the data and admin sockets with SwiftNIO. Shut down first: stops accepting, lets every
/// connection answer what it has in flight, closes them, and removes the socket files.
final class SocketServerService: Service {
    let configuration: ServerConfiguration
    /// Owned by the daemon, which shuts it down after the writer (it commits on one of them).
    let eventLoops: MultiThreadedEventLoopGroup
    let processor: RequestProcessor
    let connections: ConnectionRegistry
    let logger: Logger

    init(
        configuration: ServerConfiguration, eventLoops: MultiThreadedEventLoopGroup, processor: RequestProcessor,
        connections: ConnectionRegistry, logger: Logger
    ) {
        self.configuration = configuration
        self.eventLoops = eventLoops
        self.processor = processor
        self.connections = connections
        self.logger = logger
    }

    func run() async throws {
        let group = eventLoops
        var listeners: [(Channel, String)] = []
        do {
            // The admin socket first: once the data socket answers, both exist, so a supervisor
            // that waits for the data socket can use the admin socket at once.
            listeners.append((try await bind(group: group, role: .admin, path: configuration.adminSocketPath, mode: 0o600), configuration.adminSocketPath))
            listeners.append((try await bind(group: group, role: .data, path: configuration.dataSocketPath, mode: configuration.dataSocketMode), configuration.dataSocketPath))
        } catch {
            for (channel, path) in listeners {
                try? await channel.close()
                SocketPath.remove(path)
            }
            throw error
        }
        logger.info("serving", metadata: [
            "socket": "\(configuration.dataSocketPath)", "admin_socket": "\(configuration.adminSocketPath)",
            "frame_bytes_max": "\(configuration.frameBytesMax)", "connections_max": "\(configuration.connectionsMax)",
            "inflight_per_connection_max": "\(configuration.inflightPerConnectionMax)",
        ])

        try? await gracefulShutdown()

        logger.info("shutting down: no longer accepting; answering requests in flight")
        for (channel, _) in listeners {
            try? await channel.close()
        }
        await connections.drain(timeoutNanoseconds: configuration.drainTimeoutSeconds * 1_000_000_000)
        for (_, path) in listeners {
            SocketPath.remove(path)
        }
        logger.info("sockets closed and removed")
    }

    private func bind(group: MultiThreadedEventLoopGroup, role: SocketRole, path: String, mode: UInt16) async throws -> Channel {
        let processor = self.processor
        let connections = self.connections
        let logger = self.logger
        let configuration = self.configuration
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1_024)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // Above 64 KiB of unsent replies the connection stops being writable, and the request
            // handler stops taking requests from it until the client reads.
            .childChannelOption(.writeBufferWaterMark, value: ChannelOptions.Types.WriteBufferWaterMark(low: 32 * 1_024, high: 64 * 1_024))
            .childChannelInitializer { channel in
                let allowlist = role == .data ? configuration.dataAllowlist : configuration.adminAllowlist
                let admitted: EventLoopFuture<Bool> = allowlist.isEmpty
                    ? channel.eventLoop.makeSucceededFuture(true)
                    : PeerCredentials.of(channel).map { peer in
                        guard allowlist.admits(peer) else {
                            logger.warning("refusing a peer outside the allowlist", metadata: [
                                "socket": "\(role.rawValue)", "uid": "\(peer.userId)", "gid": "\(peer.groupId)", "pid": "\(peer.processId)",
                            ])
                            return false
                        }
                        return true
                    }.recover { _ in false }
                return admitted.flatMapThrowing { admitted in
                    let pipeline = channel.pipeline.syncOperations
                    guard admitted else {
                        try pipeline.addHandler(RejectConnectionHandler(WireError(.permissionDenied, "this uid and gid may not use this socket")))
                        return
                    }
                    guard connections.register(channel, role: role) else {
                        logger.warning("refusing a connection: connectionsMax reached", metadata: ["socket": "\(role.rawValue)"])
                        try pipeline.addHandler(RejectConnectionHandler(WireError(.tooManyConnections, "connectionsMax reached; try again later")))
                        return
                    }
                    try pipeline.addHandler(IdleStateHandler(allTimeout: .seconds(configuration.idleTimeoutSeconds)))
                    try pipeline.addHandler(ByteToMessageHandler(FrameDecoder(frameBytesMax: configuration.frameBytesMax)))
                    try pipeline.addHandler(RequestHandler(
                        processor: processor, role: role, inflightMax: configuration.inflightPerConnectionMax, logger: logger
                    ))
                }
            }
        // The socket is created under a umask that leaves it 0600, then widened to `mode`: it is
        // never, even for an instant, more open than asked.
        let previousMask = umask(0o177)
        defer { umask(previousMask) }
        let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: false).get()
        guard chmod(path, mode_t(mode)) == 0 else {
            try? await channel.close()
            throw SocketPathError(description: "cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
        return channel
    }
}
