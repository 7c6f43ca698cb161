/// Everything `purser serve` is told on its command line. Every limit is explicit, with its unit
/// last in its name.
public struct ServerConfiguration: Sendable {
    public var policyPath: String
    public var dataDirectory: String
    public var dataSocketPath: String
    public var adminSocketPath: String
    /// The data socket's file mode; the admin socket is always 0600.
    public var dataSocketMode: UInt16
    public var frameBytesMax: Int
    /// Per socket.
    public var connectionsMax: Int
    public var inflightPerConnectionMax: Int
    public var idleTimeoutSeconds: Int64
    /// How long SIGTERM waits for in-flight requests before closing connections anyway.
    public var drainTimeoutSeconds: Int64
    public var sweepIntervalMilliseconds: Int64
    /// The most operations one group commit takes, so one transaction never grows without bound.
    public var batchOperationsMax: Int
    public var mapSizeBytes: Int
    public var eventLoopThreadsCount: Int
    /// When true every group commit is fsynced before any of its replies, authorize included:
    /// answers survive power loss, at the cost of one fsync of latency per batch.
    public var syncCommits: Bool
    /// Opens LMDB with `MDB_WRITEMAP` (`StoreOptions.writeMap`); on by default since the journal
    /// made LMDB syncs rare (docs/architecture.md).
    public var writeMap: Bool
    /// Makes settles durable through the redo journal rather than an fsync of LMDB
    /// (`StoreOptions.journal`). Off only for comparisons; ignored with `syncCommits`.
    public var journal: Bool
    /// New reservations are refused once LMDB's file is within this share of the map's end
    /// (`StoreOptions.mapHeadroomPercent`), so that reservations already made can be settled.
    public var mapHeadroomPercent: Int
    /// The ledger drains the outbox at least this often...
    public var ledgerFlushIntervalMilliseconds: Int64
    /// ...or as soon as this many events wait, whichever comes first; also the largest batch.
    public var ledgerBatchEventsMax: Int
    /// Peers admitted to the data socket (SO_PEERCRED); empty admits all the file mode lets in.
    public var dataAllowlist: PeerAllowlist
    /// Peers admitted to the admin socket.
    public var adminAllowlist: PeerAllowlist

    public init(
        policyPath: String,
        dataDirectory: String = "./purser-data",
        dataSocketPath: String = "./purser.sock",
        adminSocketPath: String = "./purser-admin.sock",
        dataSocketMode: UInt16 = 0o660,
        frameBytesMax: Int = 65_536,
        connectionsMax: Int = 1_024,
        inflightPerConnectionMax: Int = 64,
        idleTimeoutSeconds: Int64 = 300,
        drainTimeoutSeconds: Int64 = 10,
        sweepIntervalMilliseconds: Int64 = 1_000,
        batchOperationsMax: Int = 4_096,
        mapSizeBytes: Int = 4 << 30,
        eventLoopThreadsCount: Int = 1,
        syncCommits: Bool = false,
        writeMap: Bool = true,
        journal: Bool = true,
        mapHeadroomPercent: Int = 10,
        ledgerFlushIntervalMilliseconds: Int64 = 1_000,
        ledgerBatchEventsMax: Int = 10_000,
        dataAllowlist: PeerAllowlist = PeerAllowlist(),
        adminAllowlist: PeerAllowlist = PeerAllowlist()
    ) {
        self.policyPath = policyPath
        self.dataDirectory = dataDirectory
        self.dataSocketPath = dataSocketPath
        self.adminSocketPath = adminSocketPath
        self.dataSocketMode = dataSocketMode
        self.frameBytesMax = frameBytesMax
        self.connectionsMax = connectionsMax
        self.inflightPerConnectionMax = inflightPerConnectionMax
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.drainTimeoutSeconds = drainTimeoutSeconds
        self.sweepIntervalMilliseconds = sweepIntervalMilliseconds
        self.batchOperationsMax = batchOperationsMax
        self.mapSizeBytes = mapSizeBytes
        self.eventLoopThreadsCount = eventLoopThreadsCount
        self.syncCommits = syncCommits
        self.writeMap = writeMap
        self.journal = journal
        self.mapHeadroomPercent = mapHeadroomPercent
        self.ledgerFlushIntervalMilliseconds = ledgerFlushIntervalMilliseconds
        self.ledgerBatchEventsMax = ledgerBatchEventsMax
        self.dataAllowlist = dataAllowlist
        self.adminAllowlist = adminAllowlist
    }

    public static let serverVersion = "0.1.0"
}
