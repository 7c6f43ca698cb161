import NIOConcurrencyHelpers
import NIOCore

/// The open client connections of both sockets: enforces `connectionsMax` per socket, and lets
/// shutdown ask every connection to drain.
final class ConnectionRegistry: Sendable {
    /// Asks a connection to stop reading, answer what it has in flight, and close.
    struct DrainRequested: Sendable {}

    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var countByRole: [SocketRole: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())
    let connectionsMax: Int

    init(connectionsMax: Int) {
        self.connectionsMax = connectionsMax
    }

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Registers a new connection, or returns false when its socket is at `connectionsMax`.
    func register(_ channel: Channel, role: SocketRole) -> Bool {
        let admitted = state.withLockedValue { state -> Bool in
            guard state.countByRole[role, default: 0] < connectionsMax else { return false }
            state.channels[ObjectIdentifier(channel)] = channel
            state.countByRole[role, default: 0] += 1
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { [self] _ in
                state.withLockedValue { state in
                    state.channels[ObjectIdentifier(channel)] = nil
                    state.countByRole[role, default: 0] -= 1
                }
            }
        }
        return admitted
    }

    /// Asks every connection to drain, waits up to `timeoutNanoseconds` for all to close, then
    /// closes whatever is left.
    func drain(timeoutNanoseconds: Int64) async {
        let channels = state.withLockedValue { Array($0.channels.values) }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(DrainRequested())
        }
        let deadline = WallClock.monotonicNanoseconds() + timeoutNanoseconds
        while count > 0, WallClock.monotonicNanoseconds() < deadline {
            try? await Task.sleep(nanoseconds: 5_000_000)
        }
        for channel in state.withLockedValue({ Array($0.channels.values) }) {
            try? await channel.close()
        }
    }
}
