import ArgumentParser
import Logging
import PurserServer
import PurserStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve decisions on a Unix socket.",
        discussion: """
            SIGHUP reloads the policy file (an invalid one is refused; the running policy stays). \
            SIGTERM and SIGINT stop accepting, answer requests in flight, commit, close LMDB, \
            remove the sockets and exit 0.
            """
    )

    enum LogFormat: String, ExpressibleByArgument {
        case text
        case json
    }

    @Option(help: "The policy file (YAML or JSON).") var policy: String
    @Option(help: "The data directory (LMDB state, and later the ledger).") var data = "./purser-data"
    @Option(help: "The data socket: authorize, settle, release, ping.") var socket = "./purser.sock"
    @Option(name: .customLong("admin-socket"), help: "The admin socket (mode 0600): reload, credit, status.") var adminSocket = "./purser-admin.sock"
    @Option(name: .customLong("socket-mode"), help: "The data socket's mode, in octal.") var socketMode = "0660"
    @Option(name: .customLong("log-format"), help: "text or json, on standard error.") var logFormat = LogFormat.text
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"
    @Option(name: .customLong("frame-bytes-max"), help: "The largest request payload accepted.") var frameBytesMax = 65_536
    @Option(name: .customLong("connections-max"), help: "Open connections per socket.") var connectionsMax = 1_024
    @Option(name: .customLong("inflight-per-connection-max"), help: "Unanswered requests per connection before reading pauses.")
    var inflightPerConnectionMax = 64
    @Option(name: .customLong("idle-timeout-seconds"), help: "A connection silent this long is closed.") var idleTimeoutSeconds: Int64 = 300
    @Option(name: .customLong("drain-timeout-seconds"), help: "How long shutdown waits for requests in flight.") var drainTimeoutSeconds: Int64 = 10
    @Option(name: .customLong("map-size-bytes"), help: "The LMDB map size: the most state may occupy. Retained reservations need about 1 KiB per request per reservation_retention (docs/architecture.md, \"Sizing the map\"): the default holds a sustained ~60 requests/s with 24-hour retention.") var mapSizeBytes = 4 << 30
    @Option(name: .customLong("event-loop-threads"), help: "SwiftNIO event loop threads.") var eventLoopThreads = 1
    @Flag(name: .customLong("sync-commits"), help: "fsync every group commit before answering, authorize included: every answer survives power loss, at the cost of one fsync of latency.")
    var syncCommits = false
    @Flag(name: .customLong("write-map"), inversion: .prefixedNo, help: "Open LMDB with MDB_WRITEMAP (the default): commits write through the memory map instead of one pwrite per page (see docs/architecture.md).")
    var writeMap = true
    @Option(name: .customLong("sweep-interval-milliseconds"), help: "How often expired reservations are swept; each sweep is also a checkpoint (LMDB fsynced, the journal restarted).")
    var sweepIntervalMilliseconds: Int64 = 1_000
    @Option(name: .customLong("map-headroom-percent"), help: "Refuse new reservations (authorize answers unavailable, or as on_store_error says) once LMDB's file is within this share of the map's end, so that the reservations already made can still be settled; 0-50, 0 turns it off.")
    var mapHeadroomPercent = 10
    @Flag(name: .customLong("journal"), inversion: .prefixedNo, help: "Make settles durable through the redo journal (the default); --no-journal fsyncs LMDB instead (slower; for comparisons, see docs/architecture.md).")
    var journal = true
    @Option(name: .customLong("socket-allow-uid"), help: "Only this uid (repeatable) may use the data socket, checked with SO_PEERCRED.")
    var socketAllowUIDs: [UInt32] = []
    @Option(name: .customLong("socket-allow-gid"), help: "Only this gid (repeatable) may use the data socket.")
    var socketAllowGIDs: [UInt32] = []
    @Option(name: .customLong("admin-allow-uid"), help: "Only this uid (repeatable) may use the admin socket.")
    var adminAllowUIDs: [UInt32] = []
    @Option(name: .customLong("admin-allow-gid"), help: "Only this gid (repeatable) may use the admin socket.")
    var adminAllowGIDs: [UInt32] = []

    func validate() throws {
        guard let mode = UInt16(socketMode, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode must be an octal mode such as 0660")
        }
        guard mode & 0o600 == 0o600 else {
            throw ValidationError("--socket-mode must let the owner read and write")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard frameBytesMax >= 64, frameBytesMax <= 16 << 20 else { throw ValidationError("--frame-bytes-max must be 64 to 16777216") }
        guard connectionsMax >= 1, inflightPerConnectionMax >= 1, eventLoopThreads >= 1 else {
            throw ValidationError("limits must be positive")
        }
        guard idleTimeoutSeconds >= 1, drainTimeoutSeconds >= 0 else { throw ValidationError("timeouts must be positive") }
        guard (0...StoreOptions.mapHeadroomPercentMax).contains(mapHeadroomPercent) else {
            throw ValidationError("--map-headroom-percent must be 0 to \(StoreOptions.mapHeadroomPercentMax)")
        }
        guard sweepIntervalMilliseconds >= 10, sweepIntervalMilliseconds <= 3_600_000 else {
            throw ValidationError("--sweep-interval-milliseconds must be 10 to 3600000")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        let format = logFormat
        LoggingSystem.bootstrap { label in
            var handler: LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "purser")
        let configuration = ServerConfiguration(
            policyPath: policy, dataDirectory: data, dataSocketPath: socket, adminSocketPath: adminSocket,
            dataSocketMode: UInt16(socketMode, radix: 8)!, frameBytesMax: frameBytesMax, connectionsMax: connectionsMax,
            inflightPerConnectionMax: inflightPerConnectionMax, idleTimeoutSeconds: idleTimeoutSeconds,
            drainTimeoutSeconds: drainTimeoutSeconds, sweepIntervalMilliseconds: sweepIntervalMilliseconds, mapSizeBytes: mapSizeBytes, eventLoopThreadsCount: eventLoopThreads,
            syncCommits: syncCommits,
            writeMap: writeMap,
            journal: journal, mapHeadroomPercent: mapHeadroomPercent,
            dataAllowlist: PeerAllowlist(userIds: Set(socketAllowUIDs), groupIds: Set(socketAllowGIDs)),
            adminAllowlist: PeerAllowlist(userIds: Set(adminAllowUIDs), groupIds: Set(adminAllowGIDs))
        )
        do {
            try await PurserDaemon.run(configuration: configuration, logger: logger)
        } catch {
            logger.critical("purser serve cannot run: \(error)")
            throw ExitCode(1)
        }
    }
}
