import ArgumentParser
import Foundation
import PurserEngine
import PurserLMDB
import PurserPolicy
import PurserServer
import PurserStore

/// `purser bench store`: the cost of deciding and recording an authorize in LMDB, without
/// sockets, against LMDB itself doing comparable writes in the same run.
///
/// Both sides commit batches of `--batch` operations without fsync, as the daemon's writer does.
/// The baseline is the floor of the store: per operation, one random read and four random
/// 64-byte writes into a database as large as the policy, in one write transaction per batch. What
/// Purser costs beyond that ratio is its own records, decoding and decisions.
struct StoreBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Time authorize batches in StateStore against raw LMDB writes in the same run."
    )

    @Option(help: "The policy to load (e.g. the one Benchmarks/bench.py writes).") var policy: String
    @Option(help: "A file of `SECRET SHA256` lines: the keys drawn at random.") var keys: String
    @Option(help: "The model every authorize asks for.") var model = "gpt-5.4-mini"
    @Option(help: "Operations per write transaction.") var batch = 64
    @Option(help: "Batches per run.") var batches = 2_000
    @Option(help: "Runs; medians are reported.") var runs = 3

    func run() throws {
        let loaded = try PolicyParser.load(contentsOfFile: policy)
        let secrets = try String(contentsOfFile: keys, encoding: .utf8).split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        guard !secrets.isEmpty else { throw ValidationError("no keys in \(keys)") }
        var random = SystemRandomNumberGenerator()
        var storeMicroseconds: [Double] = []
        var floorMicroseconds: [Double] = []
        for run in 1...runs {
            let root = NSTemporaryDirectory() + "purser-bench-store-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: root) }

            // Purser: the daemon's store, options and records.
            let store = try StateStore(directory: root + "/state", options: StoreOptions(commitWithoutSync: true))
            _ = try store.loadPolicy(loaded.policy, version: loaded.version, now: WallClock.now())
            try store.sync()
            // Requests are made before the clock starts: drawing a key costs a getrandom call.
            let allOperations = (0..<batches).map { batchIndex in
                (0..<batch).map { index in
                    StoreOperation.authorize(
                        secret: secrets[Int(random.next() % UInt64(secrets.count))],
                        request: AuthorizeRequest(requestId: "r\(run)-\(batchIndex)-\(index)", model: model, estimate: .micros(1_000))
                    )
                }
            }
            var started = WallClock.monotonicNanoseconds()
            for operations in allOperations {
                let outcomes = try store.perform(operations, now: WallClock.now())
                for outcome in outcomes {
                    guard case .authorized(.allow) = outcome else { throw ValidationError("an authorize was not allowed: \(outcome)") }
                }
            }
            let storeElapsed = Double(WallClock.monotonicNanoseconds() - started) / 1_000
            store.close()

            // The floor: LMDB alone, as many records as the policy has keys, random reads and writes.
            // The daemon's options (commits without sync, pages written with pwrite unless
            // --write-map), so that the ratio compares like with like.
            let environment = try LMDBEnvironment(path: root + "/floor", options: LMDBEnvironmentOptions(mapSizeBytes: 4 << 30, noSync: true, writeMap: StoreOptions().writeMap))
            let database = try environment.openDatabase(named: "floor")
            let recordsCount = secrets.count
            func key(_ index: UInt64) -> [UInt8] { withUnsafeBytes(of: index.bigEndian) { Array($0) } + Array(repeating: 0x6B, count: 24) }
            try environment.write { transaction in
                for index in 0..<UInt64(recordsCount) {
                    try transaction.put(database, key: key(index), value: Array(repeating: 1, count: 64))
                }
            }
            try environment.sync(force: true)
            let floorKeys = (0..<batches * batch * 5).map { _ in key(random.next() % UInt64(recordsCount)) }
            let floorValue = Array(repeating: UInt8(2), count: 64)
            started = WallClock.monotonicNanoseconds()
            var next = 0
            for _ in 0..<batches {
                try environment.write { transaction in
                    for _ in 0..<batch {
                        _ = try transaction.get(database, key: floorKeys[next])
                        for offset in 1...4 {
                            try transaction.put(database, key: floorKeys[next + offset], value: floorValue)
                        }
                        next += 5
                    }
                }
            }
            let floorElapsed = Double(WallClock.monotonicNanoseconds() - started) / 1_000
            environment.close()

            let operationsCount = Double(batches * batch)
            storeMicroseconds.append(storeElapsed / operationsCount)
            floorMicroseconds.append(floorElapsed / operationsCount)
            print(String(format: "run %d: StateStore authorize %.2f µs/op, LMDB floor %.2f µs/op, ratio %.2f",
                         run, storeMicroseconds.last!, floorMicroseconds.last!, storeMicroseconds.last! / floorMicroseconds.last!))
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        print(String(format: "median of %d runs (%d batches of %d, %d keys): StateStore authorize %.2f µs/op, LMDB floor %.2f µs/op, ratio %.2f",
                     runs, batches, batch, secrets.count, median(storeMicroseconds), median(floorMicroseconds),
                     median(storeMicroseconds) / median(floorMicroseconds)))
    }
}
