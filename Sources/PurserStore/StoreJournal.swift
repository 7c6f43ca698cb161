import PurserLMDB
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The redo journal: every committed write transaction's changes, appended in commit order, so
/// that a settle is durable after one `fdatasync` of a few sequential pages instead of an fsync of
/// every random LMDB page its batch dirtied.
///
/// LMDB still holds the state and is still written at every commit (without fsync, so a
/// `kill -9` loses nothing: the pages are in the OS's cache). Every checkpoint (the sweep tick,
/// once a second) makes LMDB itself durable with `mdb_env_sync`; after a power loss, start-up
/// replays onto LMDB the journal entries it lacks.
///
/// Two files, `journal-0` and `journal-1`, take turns. A checkpoint first switches appends to the
/// other file, then syncs LMDB: everything in the file it switched away from is then in LMDB on
/// disk, so that file may be overwritten at the next checkpoint. Until then both files are read
/// at recovery.
///
/// File layout: a 32-byte header (`PURSERJ1`, the store's 16-byte identifier, 8 zero bytes),
/// then entries: magic `PJE1` (4 bytes), records' length (UInt32), LMDB transaction id (UInt64),
/// checksum (UInt64) of the length, the id and the records, then the records
/// (`LMDBWriteLog`'s format). All integers little-endian. A file is reused from its header on,
/// so older entries may follow the newest ones: recovery stops reading a file at the first entry
/// whose checksum fails or whose id is not larger than the previous one's.
final class StoreJournal: @unchecked Sendable {
    static let fileHeaderBytesCount = 32
    static let entryHeaderBytesCount = 24
    static let fileMagic = Array("PURSERJ1".utf8)
    static let entryMagic: UInt32 = 0x3145_4A50  // "PJE1" read little-endian
    static let fileNames = ["journal-0", "journal-1"]

    /// One transaction's changes read back from a file.
    struct Entry {
        var transactionId: UInt64
        var records: [UInt8]
    }

    /// Entries appended by the writer and not yet written to a file: the writer's append is a
    /// copy into memory (a `pwrite` per commit cost an authorize 13 µs of kernel time on the
    /// benchmark VM); the syncer writes them when an answer needs them durable, or when they pass
    /// `journalPendingWriteBytes`.
    private struct Pending {
        var bytes: [UInt8] = []
        /// The id of the last entry appended since start-up or the last switch, if any.
        var lastTransactionId: UInt64?
    }

    /// Where pending entries go, guarded by `files`: held while they are taken and written, so a
    /// switch never comes between the two.
    private struct Files {
        var activeIndex = 0
        /// Where the next written bytes go in the active file.
        var offset = StoreJournal.fileHeaderBytesCount
        /// Per file: written to since its last `fdatasync` began. The file switched away from may
        /// still hold entries whose answers wait for `sync()`.
        var isUnsynced = [false, false]
    }

    let directory: String
    private let header: [UInt8]
    private let descriptors: [Int32]
    private let pending = Mutex(Pending())
    private let files = Mutex(Files())
    /// Past this many pending bytes an entry is not appended (see `append`).
    let pendingBytesMax: Int

    /// Opens both files, creating them with `storeIdentifier` in their header. A file whose header
    /// names another store (left from a data directory whose LMDB file was replaced) is emptied:
    /// its entries belong to a different database.
    init(directory: String, storeIdentifier: [UInt8], pendingBytesMax: Int = 64 << 20) throws(StoreError) {
        precondition(storeIdentifier.count == 16)
        self.directory = directory
        self.pendingBytesMax = pendingBytesMax
        var header = Self.fileMagic + storeIdentifier
        header += [UInt8](repeating: 0, count: Self.fileHeaderBytesCount - header.count)
        var descriptors: [Int32] = []
        do throws(StoreError) {
            for name in Self.fileNames {
                let path = directory + "/" + name
                let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else { throw StoreError.journal(operation: "open", path: path, code: errno) }
                descriptors.append(descriptor)
                var found = [UInt8](repeating: 0, count: Self.fileHeaderBytesCount)
                let readCount = found.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
                if readCount != Self.fileHeaderBytesCount || found != header {
                    try Self.truncate(descriptor, path: path, header: header)
                }
            }
            try Self.syncDirectory(directory)
        } catch {
            for descriptor in descriptors { close(descriptor) }
            throw error
        }
        self.descriptors = descriptors
        self.header = header
    }

    deinit {
        for descriptor in descriptors { close(descriptor) }
    }

    // MARK: Recovery

    /// Every intact entry of both files, in transaction order.
    func entries() throws(StoreError) -> [Entry] {
        var entries: [Entry] = []
        for (index, descriptor) in descriptors.enumerated() {
            let path = directory + "/" + Self.fileNames[index]
            let size = lseek(descriptor, 0, SEEK_END)
            guard size >= 0 else { throw StoreError.journal(operation: "lseek", path: path, code: errno) }
            var contents = [UInt8](repeating: 0, count: Int(size))
            var done = 0
            while done < contents.count {
                let count = contents.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, $0.count - done, off_t(done)) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { throw StoreError.journal(operation: "pread", path: path, code: count < 0 ? errno : EIO) }
                done += count
            }
            entries += contents.withUnsafeBytes { Self.entries(in: $0) }
        }
        return entries.sorted { $0.transactionId < $1.transactionId }
    }

    /// The entries of one file's contents, from after the header to the first that is torn,
    /// foreign or out of sequence.
    static func entries(in contents: UnsafeRawBufferPointer) -> [Entry] {
        var entries: [Entry] = []
        var offset = fileHeaderBytesCount
        while contents.count - offset >= entryHeaderBytesCount {
            let magic = UInt32(littleEndian: contents.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let recordsCount = Int(UInt32(littleEndian: contents.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)))
            let transactionId = UInt64(littleEndian: contents.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            let checksum = UInt64(littleEndian: contents.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
            let recordsStart = offset + entryHeaderBytesCount
            guard magic == entryMagic, recordsCount <= contents.count - recordsStart else { break }
            let records = UnsafeRawBufferPointer(rebasing: contents[recordsStart..<recordsStart + recordsCount])
            guard checksum == JournalChecksum.of(records, seed: transactionId ^ UInt64(recordsCount) << 40) else { break }
            // Ids only grow within a file's current contents; an older entry left behind has a
            // smaller id than every newer one. (A gap, an entry too large to journal, is allowed
            // here and stops the replay instead, so that recovery can say how much lay beyond.)
            if let last = entries.last, transactionId <= last.transactionId { break }
            entries.append(Entry(transactionId: transactionId, records: Array(records)))
            offset = recordsStart + recordsCount
        }
        return entries
    }

    /// Empties both files (after recovery, once LMDB is synced): entries of an earlier run must
    /// never be mistaken for this run's, whose transaction ids may repeat theirs if that run's
    /// last transactions were lost.
    func removeAllEntries() throws(StoreError) {
        for (index, descriptor) in descriptors.enumerated() {
            try Self.truncate(descriptor, path: directory + "/" + Self.fileNames[index], header: header)
        }
        files.withLock { $0 = Files() }
        pending.withLock { $0 = Pending() }
    }

    /// True when either journal file exists in `directory`: an earlier journaled run's, to
    /// replay even when this run keeps no journal.
    static func filesExist(in directory: String) -> Bool {
        fileNames.contains { access(directory + "/" + $0, F_OK) == 0 }
    }

    /// Deletes both files, for a run that keeps no journal, once LMDB on disk holds every entry
    /// (after recovery and a sync). The journal must not be used afterwards.
    func deleteFiles() throws(StoreError) {
        try Self.removeDurably(Self.fileNames, in: directory)
    }

    /// Unlinks the named files of `directory` (one already gone is fine), then syncs the directory
    /// so that the removal itself survives a crash.
    static func removeDurably(_ names: [String], in directory: String) throws(StoreError) {
        for name in names {
            let path = directory + "/" + name
            guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.journal(operation: "unlink", path: path, code: errno) }
        }
        try syncDirectory(directory)
    }

    // MARK: Appending (the writer's thread)

    /// Copies `log`'s records, as the entry of transaction `transactionId`, to the pending
    /// entries. No system call: `sync()` writes them. Returns false, appending nothing, when
    /// `pendingBytesMax` bytes are already pending (the disk stalls): the caller must treat the
    /// transaction as not journaled.
    func append(_ log: LMDBWriteLog, transactionId: UInt64) -> Bool {
        precondition(log.headerBytesCount == Self.entryHeaderBytesCount)
        let recordsCount = log.recordBytesCount
        precondition(recordsCount <= Int(UInt32.max))
        let checksum = log.bytes.withUnsafeBytes { all in
            JournalChecksum.of(UnsafeRawBufferPointer(rebasing: all[Self.entryHeaderBytesCount...]), seed: transactionId ^ UInt64(recordsCount) << 40)
        }
        log.withHeader { header in
            header.storeBytes(of: Self.entryMagic.littleEndian, toByteOffset: 0, as: UInt32.self)
            header.storeBytes(of: UInt32(recordsCount).littleEndian, toByteOffset: 4, as: UInt32.self)
            header.storeBytes(of: transactionId.littleEndian, toByteOffset: 8, as: UInt64.self)
            header.storeBytes(of: checksum.littleEndian, toByteOffset: 16, as: UInt64.self)
        }
        return pending.withLock { pending in
            if let last = pending.lastTransactionId { precondition(transactionId > last, "journal entries must follow commit order") }
            guard pending.bytes.count + log.bytes.count <= pendingBytesMax else { return false }
            pending.bytes.append(contentsOf: log.bytes)
            pending.lastTransactionId = transactionId
            return true
        }
    }

    /// Bytes pending, not yet written to a file.
    var pendingBytesCount: Int {
        pending.withLock { $0.bytes.count }
    }

    /// Bytes in the active file, header and pending entries included.
    var activeBytesCount: Int {
        files.withLock { $0.offset } + pendingBytesCount
    }

    // MARK: Durability (the syncer's and checkpointer's threads)

    /// Makes every entry appended so far durable: writes the pending entries to the active file,
    /// then `fdatasync`s each file written to since its last one (usually the active file alone;
    /// both just after a switch).
    func sync() throws(StoreError) {
        let indexes: [Int] = try files.withLock { (files: inout Files) throws(StoreError) -> [Int] in
            try writePending(&files)
            defer { files.isUnsynced = [false, false] }
            return files.isUnsynced.indices.filter { files.isUnsynced[$0] }
        }
        for index in indexes where fdatasync(descriptors[index]) != 0 {
            throw StoreError.journal(operation: "fdatasync", path: directory + "/" + Self.fileNames[index], code: errno)
        }
    }

    /// Writes the pending entries to the active file, without `fdatasync`: under an
    /// authorize-only load nothing asks for durability, and they must not wait in memory for the
    /// next checkpoint.
    func writePending() throws(StoreError) {
        try files.withLock { (files: inout Files) throws(StoreError) in try writePending(&files) }
    }

    /// Writes what is pending to the active file and sends later entries to the other file, from
    /// its header on. The caller must then sync LMDB before the next `switchFiles()`: the file
    /// switched away from is the only copy of its entries until LMDB is durable.
    func switchFiles() throws(StoreError) {
        try files.withLock { (files: inout Files) throws(StoreError) in
            try writePending(&files)
            files = Files(activeIndex: 1 - files.activeIndex, isUnsynced: files.isUnsynced)
        }
    }

    private func writePending(_ files: inout Files) throws(StoreError) {
        // Swap under the short lock so the writer's next append is not held up by the write.
        let taken: [UInt8] = pending.withLock { pending in
            var taken: [UInt8] = []
            taken.reserveCapacity(pending.bytes.capacity)
            swap(&taken, &pending.bytes)
            return taken
        }
        guard !taken.isEmpty else { return }
        let descriptor = descriptors[files.activeIndex]
        var done = 0
        while done < taken.count {
            let count = taken.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(files.offset + done)) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                throw StoreError.journal(operation: "pwrite", path: directory + "/" + Self.fileNames[files.activeIndex], code: count < 0 ? errno : EIO)
            }
            done += count
        }
        files.offset += taken.count
        files.isUnsynced[files.activeIndex] = true
    }

    // MARK: Files

    private static func truncate(_ descriptor: Int32, path: String, header: [UInt8]) throws(StoreError) {
        guard ftruncate(descriptor, 0) == 0 else { throw StoreError.journal(operation: "ftruncate", path: path, code: errno) }
        let written = header.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == header.count else { throw StoreError.journal(operation: "pwrite", path: path, code: written < 0 ? errno : EIO) }
        guard fsync(descriptor) == 0 else { throw StoreError.journal(operation: "fsync", path: path, code: errno) }
    }

    /// A new file's directory entry is durable only once the directory is synced.
    static func syncDirectory(_ directory: String) throws(StoreError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError.journal(operation: "open", path: directory, code: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StoreError.journal(operation: "fsync", path: directory, code: errno) }
    }
}
