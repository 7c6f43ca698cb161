/// The checksum of a journal entry: finds an entry torn by a crash in the middle of its write, or
/// the left-over bytes of an older entry, before recovery trusts it.
///
/// Not cryptographic: nobody but the daemon writes the journal (the data directory is 0700). It
/// reads eight bytes at a time because it runs over every byte the writer journals (~1 KiB per
/// authorize), where CRC-32 byte by byte cost more than the rest of the append.
enum JournalChecksum {
    static func of(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var hash = seed ^ 0xC2B2_AE3D_27D4_EB4F ^ UInt64(bytes.count)
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            hash = (hash ^ word) &* multiplier
            hash ^= hash >> 29
            offset += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count {
            tail |= UInt64(bytes[offset]) << shift
            shift += 8
            offset += 1
        }
        hash = (hash ^ tail) &* multiplier
        hash ^= hash >> 32
        return hash
    }
}
