#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// LMDB's two meta pages, the first two pages of `data.mdb`, read and written as raw bytes.
///
/// LMDB opens the snapshot named by whichever meta page holds the higher transaction id. With
/// `MDB_NOSYNC` a commit's meta page reaches the disk whenever the kernel writes it back, not
/// after the commit's other pages: an `msync` writes dirty pages in file order, meta pages first.
/// A power loss in between leaves a meta page naming pages that never reached the disk, and LMDB
/// then reports `MDB_CORRUPTED` (measured: docs/architecture.md). Writing back the meta page of a
/// snapshot known to be whole on disk (`LMDBSnapshotPin`) opens that snapshot instead.
///
/// The layout read here is LMDB's data format version 1 (every 0.9 release): a 16-byte page
/// header (page number, pad, flags, lower, upper), then `MDB_meta`: magic, version, address, map
/// size, the two `MDB_db` records (48 bytes each), the last page number and the transaction id.
/// Every page read is checked for the meta flag, the magic and the version before use.
public enum LMDBMetaPages {
    static let magic: UInt32 = 0xBEEF_C0DE
    static let dataVersion: UInt32 = 1
    /// `P_META` in the page header's flags.
    static let metaPageFlag: UInt16 = 0x08
    static let flagsOffset = 10
    static let magicOffset = 16
    static let versionOffset = 20
    static let transactionIdOffset = 144
    /// The bytes every check and copy needs; a page is never smaller than LMDB's minimum (512).
    static let metaBytesCount = transactionIdOffset + 8

    /// The transaction id a meta page names, or nil when `page` is not an LMDB meta page of the
    /// format this code knows.
    public static func transactionId(of page: [UInt8]) -> UInt64? {
        guard page.count >= metaBytesCount,
              integer(UInt16.self, in: page, at: flagsOffset) & metaPageFlag != 0,
              integer(UInt32.self, in: page, at: magicOffset) == magic,
              integer(UInt32.self, in: page, at: versionOffset) == dataVersion
        else { return nil }
        return integer(UInt64.self, in: page, at: transactionIdOffset)
    }

    /// Both meta pages of the data file at `path`, as the OS holds them now (`pread`, so the page
    /// cache, not the disk).
    public static func read(dataFile path: String, pageSizeBytes: Int) throws(LMDBError) -> [[UInt8]] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LMDBError(code: errno, operation: "open") }
        defer { close(descriptor) }
        var pages: [[UInt8]] = []
        for slot in 0..<2 {
            var page = [UInt8](repeating: 0, count: pageSizeBytes)
            let count = page.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress, pageSizeBytes, off_t(slot * pageSizeBytes))
            }
            guard count == pageSizeBytes else { throw LMDBError(code: count < 0 ? errno : EIO, operation: "pread") }
            pages.append(page)
        }
        return pages
    }

    /// Writes `page`, a meta page read by `read`, into both slots of the data file at `path` and
    /// fsyncs it, so that LMDB opens the snapshot `page` names. Both slots name it (the second as
    /// its own page number), so neither can name a later, unwritten one.
    ///
    /// Refuses (`EINVAL`) a page that is no meta page, and a page naming a later transaction than
    /// the file already does: a restore only ever goes back, to a snapshot this file once held.
    public static func restore(_ page: [UInt8], dataFile path: String) throws(LMDBError) {
        guard let restoredId = transactionId(of: page) else { throw LMDBError(code: EINVAL, operation: "meta page") }
        let pageSizeBytes = page.count
        let current = try read(dataFile: path, pageSizeBytes: pageSizeBytes)
        let newest = current.compactMap(transactionId(of:)).max() ?? 0
        guard restoredId <= newest else { throw LMDBError(code: EINVAL, operation: "meta page newer than the data file") }
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LMDBError(code: errno, operation: "open") }
        defer { close(descriptor) }
        for slot in 0..<2 {
            var copy = page
            // The page header starts with the page's own number.
            withUnsafeBytes(of: UInt64(slot).littleEndian) { number in
                copy.replaceSubrange(0..<8, with: number)
            }
            let count = copy.withUnsafeBytes { buffer in
                pwrite(descriptor, buffer.baseAddress, pageSizeBytes, off_t(slot * pageSizeBytes))
            }
            guard count == pageSizeBytes else { throw LMDBError(code: count < 0 ? errno : EIO, operation: "pwrite") }
        }
        guard fsync(descriptor) == 0 else { throw LMDBError(code: errno, operation: "fsync") }
    }

    private static func integer<T: FixedWidthInteger>(_ type: T.Type, in page: [UInt8], at offset: Int) -> T {
        page.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }
}
