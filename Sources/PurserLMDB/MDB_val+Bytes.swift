import CLMDB

extension MDB_val {
    /// Points LMDB at `bytes` without copying; valid only while `bytes` is.
    init(bytes: UnsafeRawBufferPointer) {
        self.init(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
    }

    /// The bytes LMDB pointed this value at, typically inside the memory map.
    var rawBuffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mv_data, count: mv_size)
    }
}
