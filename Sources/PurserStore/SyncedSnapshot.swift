#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The LMDB snapshot the last sync made durable, recorded in the data directory (`fileName`) so
/// that a start-up after an OS crash can reopen it: its meta page, its transaction id, and the
/// boot the record was made in.
///
/// Why: LMDB commits without fsync, and a later `msync` (or the kernel) may write a commit's meta
/// page before the pages it names. After a power loss LMDB would then open a snapshot whose pages
/// never reached the disk. The store keeps the recorded snapshot's pages from being reused
/// (`LMDBSnapshotPin`), so it stays whole on disk until the next record replaces it; the journal
/// holds everything committed after it.
///
/// Layout: `magic` (8 bytes), page size (UInt32 LE), boot identifier length (1 byte) and bytes,
/// transaction id (UInt64 LE), the meta page, and a checksum of all that (UInt64 LE). Written to
/// a temporary file, fsynced and renamed, so a crash leaves the old record or the new one.
struct SyncedSnapshot: Equatable {
    static let fileName = "synced-snapshot"
    static let magic = Array("PURSNAP1".utf8)
    /// Linux's boot id is a 36-character UUID; anything longer is not one.
    static let bootIdentifierBytesMax = 64

    /// The kernel's id of the boot this record was made in.
    var bootIdentifier: String
    var transactionId: UInt64
    /// LMDB's meta page naming the snapshot, as read from the data file.
    var metaPage: [UInt8]

    func encoded() -> [UInt8] {
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(UInt32(metaPage.count))
        let boot = Array(bootIdentifier.utf8.prefix(Self.bootIdentifierBytesMax))
        bytes.append(UInt8(boot.count))
        bytes.append(contentsOf: boot)
        append(transactionId)
        bytes.append(contentsOf: metaPage)
        append(bytes.withUnsafeBytes { JournalChecksum.of($0, seed: 0) })
        return bytes
    }

    /// Decodes a record; nil when the bytes are not a whole, intact one.
    init?(decoding bytes: [UInt8]) {
        let fixedCount = Self.magic.count + 4 + 1
        guard bytes.count >= fixedCount + 8 + 8, Array(bytes.prefix(Self.magic.count)) == Self.magic else { return nil }
        func integer<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        let pageCount = Int(integer(UInt32.self, at: Self.magic.count))
        let bootCount = Int(bytes[Self.magic.count + 4])
        let transactionIdOffset = fixedCount + bootCount
        let pageOffset = transactionIdOffset + 8
        let checksumOffset = pageOffset + pageCount
        guard bootCount <= Self.bootIdentifierBytesMax, bytes.count == checksumOffset + 8 else { return nil }
        let checksum = bytes.withUnsafeBytes { JournalChecksum.of(UnsafeRawBufferPointer(rebasing: $0[0..<checksumOffset]), seed: 0) }
        guard checksum == integer(UInt64.self, at: checksumOffset) else { return nil }
        bootIdentifier = String(decoding: bytes[fixedCount..<transactionIdOffset], as: UTF8.self)
        transactionId = integer(UInt64.self, at: transactionIdOffset)
        metaPage = Array(bytes[pageOffset..<checksumOffset])
    }

    init(bootIdentifier: String, transactionId: UInt64, metaPage: [UInt8]) {
        self.bootIdentifier = bootIdentifier
        self.transactionId = transactionId
        self.metaPage = metaPage
    }

    /// The record in `directory`; nil if there is none, or if it does not decode (it is written
    /// by rename, so only outside damage makes one).
    static func stored(in directory: String) throws(StoreError) -> SyncedSnapshot? {
        let path = directory + "/" + fileName
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw StoreError.journal(operation: "open", path: path, code: errno)
        }
        defer { close(descriptor) }
        // A meta page is at most LMDB's largest page size (64 KiB); anything larger is damage.
        let bytesMax = 128 << 10
        var bytes = [UInt8](repeating: 0, count: bytesMax)
        var total = 0
        while total < bytesMax {
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + total, bytesMax - total) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw StoreError.journal(operation: "read", path: path, code: errno) }
            if count == 0 { break }
            total += count
        }
        return SyncedSnapshot(decoding: Array(bytes.prefix(total)))
    }

    /// Replaces the record in `directory` atomically and durably.
    func write(in directory: String) throws(StoreError) {
        let path = directory + "/" + Self.fileName
        let temporaryPath = path + ".tmp"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StoreError.journal(operation: "open", path: temporaryPath, code: errno) }
        let bytes = encoded()
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        let synced = written == bytes.count && fsync(descriptor) == 0
        let failure = errno
        close(descriptor)
        guard synced else { throw StoreError.journal(operation: "write", path: temporaryPath, code: written < 0 || written == bytes.count ? failure : EIO) }
        guard rename(temporaryPath, path) == 0 else { throw StoreError.journal(operation: "rename", path: path, code: errno) }
        try StoreJournal.syncDirectory(directory)
    }

    /// The kernel's id of the running boot (`/proc/sys/kernel/random/boot_id`), "" where there is
    /// none (not Linux): then every start counts as the same boot.
    static func currentBootIdentifier() -> String {
        let descriptor = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return "" }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 64) }
        guard count > 0 else { return "" }
        var text = String(decoding: buffer.prefix(count), as: UTF8.self)
        while text.last?.isWhitespace == true { text.removeLast() }
        return text
    }
}
