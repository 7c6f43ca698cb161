// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Purser",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "purser", targets: ["purser"]),
        .library(name: "PurserPolicy", targets: ["PurserPolicy"]),
        .library(name: "PurserEngine", targets: ["PurserEngine"]),
        .library(name: "PurserStore", targets: ["PurserStore"]),
        .library(name: "PurserWire", targets: ["PurserWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // C libraries come from Debian's -dev packages; they are never vendored.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // A thin, typed Swift wrapper over the LMDB C API: every return code checked, handles freed in deinit.
        .target(name: "PurserLMDB", dependencies: ["CLMDB"]),
        // The same for SQLite: statements finalized in deinit, every result code a typed error.
        .target(name: "PurserSQLite", dependencies: ["CSQLite"]),
        // Policy: the policy file's model, parsing and validation. No state, no clock.
        .target(
            name: "PurserPolicy",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Engine: pure decision logic over values. No I/O, no clock of its own.
        .target(
            name: "PurserEngine",
            dependencies: ["PurserPolicy"]
        ),
        // Store: LMDB persistence of policy, counters, reservations and the ledger outbox.
        .target(
            name: "PurserStore",
            dependencies: ["PurserLMDB", "PurserPolicy", "PurserEngine"]
        ),
        // Ledger: the SQLite usage ledger drained from the LMDB outbox: events, rollups, invoices.
        .target(name: "PurserLedger", dependencies: ["PurserSQLite", "PurserEngine", "PurserPolicy"]),
        // Wire: protocol v1 frames and messages as bytes. No I/O, so it can be fuzzed directly.
        .target(name: "PurserWire"),
        // Server: SwiftNIO on Unix sockets, the group-commit writer, and the services of `purser serve`.
        .target(
            name: "PurserServer",
            dependencies: [
                "PurserPolicy", "PurserEngine", "PurserStore", "PurserWire", "PurserLedger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "purser",
            dependencies: [
                "PurserPolicy", "PurserEngine", "PurserStore", "PurserWire", "PurserServer", "PurserLedger", "PurserLMDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "PurserLMDBTests", dependencies: ["PurserLMDB"]),
        .testTarget(name: "PurserSQLiteTests", dependencies: ["PurserSQLite"]),
        .testTarget(name: "PurserLedgerTests", dependencies: ["PurserLedger", "PurserStore", "PurserEngine", "PurserPolicy", "PurserSQLite"]),
        .testTarget(name: "PurserPolicyTests", dependencies: ["PurserPolicy"]),
        .testTarget(name: "PurserEngineTests", dependencies: ["PurserEngine", "PurserPolicy"]),
        .testTarget(
            name: "PurserStoreTests",
            dependencies: ["PurserStore", "PurserEngine", "PurserPolicy", "PurserLMDB"]
        ),
        .testTarget(name: "PurserWireTests", dependencies: ["PurserWire"]),
        .testTarget(
            name: "PurserServerTests",
            dependencies: [
                "PurserServer", "PurserWire", "PurserStore", "PurserPolicy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PurserCommandTests", dependencies: ["PurserPolicy"]),
    ],
    swiftLanguageModes: [.v6]
)
