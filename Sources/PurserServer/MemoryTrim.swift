#if canImport(Glibc)
import Glibc
#endif

/// Hands memory freed by a policy parse back to the kernel. Parsing a large policy allocates
/// hundreds of megabytes of short-lived nodes; glibc keeps freed memory in its arenas, so without
/// this the daemon's resident size would stay at the parse's peak for its whole life.
enum MemoryTrim {
    private typealias MallocTrim = @convention(c) (Int) -> Int32

    /// glibc's `malloc_trim`, which Swift's Glibc module does not export (it lives in malloc.h);
    /// looked up once, and absent on other C libraries.
    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()

    static func releaseFreedMemory() {
        _ = mallocTrim?(0)
    }
}
